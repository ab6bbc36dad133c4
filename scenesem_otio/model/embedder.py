"""Model stage 3: backbone + head = SceneEmbedder, batched embedding, device and precision.

Checkpoints (save/load) live in `model/checkpoint.py`; the embedder carries its `ModelMeta`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scenesem_otio.model.contract import Backbone
from scenesem_otio.model.head import EmbeddingHead
from scenesem_otio.model.meta import ModelMeta

if TYPE_CHECKING:
    from scenesem_otio.model.boundary import BoundaryEnsemble, BoundaryModel

log = logging.getLogger("scenesem")

class SceneEmbedder(nn.Module):
    """Clips -> L2-normalised scene-space embeddings.

    Without a trained head the embedding is the normalised pooled feature itself: a random
    head would only scramble distances.
    """

    # Set through `set_boundary`, outside the state dict; declared for the type checker.
    boundary: BoundaryModel | BoundaryEnsemble | None

    def __init__(self, backbone: Backbone, head: EmbeddingHead | None = None,
                 meta: ModelMeta | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.meta = meta or ModelMeta()
        # A contextual BoundaryModel when the checkpoint has one; it has files of its own, so it
        # stays out of this module's state dict (set it with `set_boundary`).
        self.__dict__["boundary"] = None
        self.choice = ""  # why this model was chosen (`--model auto`), for the user
        self.autocast_dtype: torch.dtype | None = None

    def set_boundary(self, model: BoundaryModel | BoundaryEnsemble | None) -> None:
        self.__dict__["boundary"] = model

    @property
    def device(self) -> torch.device:
        return self.backbone.device

    @property
    def dim(self) -> int:
        return self.head.dims[2] if self.head is not None else self.backbone.hidden_size

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        if self.head is None:
            return F.normalize(pooled, dim=-1)
        return self.head(pooled)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.project(self.backbone(pixel_values))

    @torch.inference_mode()
    def embed(self, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """uint8 [N, T, S, S, 3] -> float32 [N, E], batched, autocast per precision."""
        self.eval()
        out = []
        for i in range(0, len(clips), batch_size):
            x = self.backbone.preprocess(clips[i : i + batch_size])
            with torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32,
                                enabled=self.autocast_dtype is not None):
                v = self(x)
            out.append(F.normalize(v.float(), dim=-1).cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate(out).astype(np.float32)
