"""What every backbone family gives the rest of the model stage: the `Backbone` protocol.

`SceneEmbedder`, checkpoints, the embed stage, the speed options (issue 16) and training
speak to a backbone only through these members, so VideoMAE (`model.backbone.VideoBackbone`)
and the embedded image model (`model.efficientnet.ImageBackbone`) are interchangeable and a
type checker (mypy, in `.ci/run`) holds both to the same shape. Neither class inherits from
it: the protocol is structural.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from scenesem_otio.core.errors import CheckpointError


class Backbone(Protocol):
    """Clips [B, T, S, S, 3] uint8 -> one pooled vector per clip [B, hidden_size].

    The clip shape (`num_frames` frames or keyframes of `image_size` pixels square) is what
    clip sampling resolves to. Layers are what `--unfreeze K` counts and what `prefix` and
    `suffix` split: `suffix(prefix(x, n), n) == forward(x)` for every n, so training runs the
    frozen prefix once (and may cache it) and only the suffix learns.
    """

    @property
    def num_frames(self) -> int: ...

    @property
    def image_size(self) -> int: ...

    @property
    def hidden_size(self) -> int: ...

    @property
    def num_layers(self) -> int: ...

    @property
    def config(self) -> dict[str, Any]:
        """JSON-able; the family's `from_config` rebuilds the module from it (checkpoints)."""
        ...

    @property
    def device(self) -> torch.device: ...

    @property
    def keep(self) -> float:
        """The fraction of its input tokens the encoder sees (1.0: all)."""
        ...

    def set_keep(self, keep: float) -> None:
        """Ask for a token fraction in (0, 1] (refused outside it); a backbone with no tokens to
        drop keeps seeing everything, and `keep` says what it runs with."""
        ...

    def preprocess(self, clips: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 [B, T, H, W, 3] -> the normalised float input of `forward`, on `device`."""
        ...

    def __call__(self, pixel_values: torch.Tensor) -> torch.Tensor: ...

    def prefix(self, pixel_values: torch.Tensor, n_layers: int) -> torch.Tensor: ...

    def suffix(self, hidden: torch.Tensor, start_layer: int) -> torch.Tensor: ...

    def prefix_parameters(self, n_layers: int) -> list[tuple[str, nn.Parameter]]:
        """The parameters `prefix(x, n_layers)` depends on (a feature cache's fingerprint)."""
        ...

    def unfreeze_last(self, k: int) -> None: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...


def check_keep(keep: float, what: str = "--keep") -> float:
    """A token fraction in (0, 1]; anything else is a user mistake (an option or a checkpoint's
    scenesem.json)."""
    if not 0.0 < float(keep) <= 1.0:
        raise CheckpointError(f"{what}: the fraction of tokens kept must be in (0, 1], "
                              f"not {keep}")
    return float(keep)
