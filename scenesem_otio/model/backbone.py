"""Model stage 1: VideoMAE encoder -> one pooled vector per clip (SPEC §2.4).

VideoMAE has no CLS token: the pooled vector is the mean of `last_hidden_state` over tokens
followed by a LayerNorm (`fc_norm`, as in VideoMAEForVideoClassification). That vector is what
the design calls "the output CLS token".

Visible-token inference (`keep` < 1): the encoder sees only a fixed, spatially even subset of
the tubelet tokens (the same cells in every frame pair, a "tube" pattern, as in VideoMAE's own
pre-training, which saw 10 %); attention and MLP cost fall with the sequence length and the
mean pooling runs over the kept tokens.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from scenesem_otio.core.config import DEFAULT_KEEP, DEFAULT_MODEL, RuntimeOptions
from scenesem_otio.core.errors import CheckpointError
from scenesem_otio.model.contract import check_keep

if TYPE_CHECKING:
    from transformers import VideoMAEConfig, VideoMAEModel

    from scenesem_otio.model.embedder import SceneEmbedder

log = logging.getLogger("scenesem")

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # VideoMAEImageProcessor defaults
IMAGENET_STD = (0.229, 0.224, 0.225)


def keep_order(grid_h: int, grid_w: int) -> np.ndarray:
    """Every spatial cell of a grid_h×grid_w patch grid, ranked so that any prefix is even.

    Blue-noise ordering (the "void" half of void-and-cluster): start at the centre, then
    repeatedly take the cell with the least Gaussian energy from the cells already taken, on
    a torus so that borders are not favoured. Deterministic (ties go to the lowest index), so
    every clip, every run and every machine sees the same tokens.
    """
    i, j = np.mgrid[0:grid_h, 0:grid_w]
    cells = np.stack([i.ravel(), j.ravel()], axis=1).astype(np.float64)
    d = np.abs(cells[:, None, :] - cells[None, :, :])
    d = np.minimum(d, np.array([grid_h, grid_w], np.float64) - d)
    kernel = np.exp(-(d**2).sum(-1) / (2 * 1.5**2))
    n = grid_h * grid_w
    energy = np.zeros(n)
    taken = np.zeros(n, bool)
    order = np.empty(n, np.int64)
    for step in range(n):
        cell = ((grid_h // 2) * grid_w + grid_w // 2 if step == 0
                else int(np.argmin(np.where(taken, np.inf, np.round(energy, 9)))))
        order[step] = cell
        taken[cell] = True
        energy += kernel[cell]
    return order


def keep_pattern(grid_h: int, grid_w: int, keep: float) -> np.ndarray:
    """bool [grid_h, grid_w]: the round(keep·cells) spatial cells the encoder sees (≥ 1)."""
    n = grid_h * grid_w
    k = min(n, max(1, round(keep * n)))
    kept = np.zeros(n, bool)
    kept[keep_order(grid_h, grid_w)[:k]] = True
    return kept.reshape(grid_h, grid_w)


class VideoBackbone(nn.Module):
    """A `transformers.VideoMAEModel` plus mean pooling and `fc_norm`; a
    `model.contract.Backbone`."""

    # Buffers, declared for the type checker (nn.Module registers them at run time).
    mean: torch.Tensor
    std: torch.Tensor
    masked: torch.Tensor | None

    def __init__(self, encoder: VideoMAEModel) -> None:
        super().__init__()
        self.encoder = encoder
        self.fc_norm = nn.LayerNorm(encoder.config.hidden_size,
                                    eps=encoder.config.layer_norm_eps)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 1, 3, 1, 1),
                             persistent=False)
        self.keep = 1.0  # fraction of tubelet tokens the encoder sees
        # [N] bool, True = token dropped (transformers' bool_masked_pos); None: all tokens.
        self.register_buffer("masked", None, persistent=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, config: VideoMAEConfig) -> VideoBackbone:
        from transformers import VideoMAEModel

        config._attn_implementation = "sdpa"
        return cls(VideoMAEModel(config))

    @classmethod
    def from_pretrained(cls, name_or_dir: str | os.PathLike = DEFAULT_MODEL) -> VideoBackbone:
        """Hub id or save_pretrained directory; fc_norm comes along when the weights have it."""
        from transformers import VideoMAEModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own bars show the long work; loading is quick
        name = str(name_or_dir)
        local = Path(name)
        if local.exists() and not (local / "config.json").exists():
            raise CheckpointError(f"{local}: not a model directory (no config.json)")
        try:
            encoder = VideoMAEModel.from_pretrained(name, attn_implementation="sdpa")
        except OSError as err:
            if local.exists():
                raise CheckpointError(f"{local}: cannot load VideoMAE weights "
                                      f"({str(err).splitlines()[0][:160]})") from None
            raise CheckpointError(
                f"{name}: model not found locally and the Hugging Face hub cannot be reached; "
                "pass --model DIR (a downloaded or scenesem checkpoint directory) or use "
                "`scenesem baseline` for shots without a model") from None
        except (ValueError, RuntimeError) as err:
            raise CheckpointError(f"{name}: not a VideoMAE model "
                                  f"({str(err).splitlines()[0][:160]})") from None
        backbone = cls(encoder)
        backbone._load_fc_norm(local)
        return backbone

    def _load_fc_norm(self, local: Path) -> None:
        weights = local / "model.safetensors"
        if not weights.exists():
            return
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as f:
            keys = set(f.keys())
            if "fc_norm.weight" in keys and "fc_norm.bias" in keys:
                self.fc_norm.weight.data.copy_(f.get_tensor("fc_norm.weight"))
                self.fc_norm.bias.data.copy_(f.get_tensor("fc_norm.bias"))

    # ------------------------------------------------------------------ facts
    @property
    def config(self) -> dict[str, Any]:
        return self.encoder.config.to_dict()

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def image_size(self) -> int:
        # transformers types it `int | (h, w)`; VideoMAE checkpoints give one side (square).
        return int(cast(int, self.encoder.config.image_size))

    @property
    def num_frames(self) -> int:
        return int(self.encoder.config.num_frames)

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)

    @property
    def num_layers(self) -> int:
        return len(self.encoder.encoder.layer)

    @property
    def token_grid(self) -> tuple[int, int, int]:
        """(time, height, width) of the tubelet token grid: (8, 14, 14) for videomae-base."""
        c = self.encoder.config
        side = self.image_size // int(cast(int, c.patch_size))
        return int(c.num_frames) // int(c.tubelet_size), side, side

    @property
    def n_tokens(self) -> int:
        """Tokens the encoder sees per clip at the current `keep`."""
        t, h, w = self.token_grid
        return t * h * w if self.masked is None else int((~self.masked).sum())

    def set_keep(self, keep: float) -> None:
        """Let the encoder see `keep` of the tokens: the same spatial cells in every frame pair
        (a tube pattern, spatially even); 1.0 restores the full sequence bit for bit."""
        keep = check_keep(keep)
        self.keep = keep
        if keep >= 1.0:
            self.masked = None
            return
        t, h, w = self.token_grid
        # Token order is the patch Conv3d's flatten: index = (t·h + row)·w + col.
        tube = np.broadcast_to(keep_pattern(h, w, keep), (t, h, w)).reshape(-1)
        self.masked = torch.from_numpy(~tube).to(self.mean.device)

    # ------------------------------------------------------------------ compute
    def preprocess(self, clips: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 [B, T, H, W, 3] -> normalised float [B, T, 3, H, W] on this module's device."""
        x = torch.as_tensor(clips, device=self.mean.device)
        x = x.permute(0, 1, 4, 2, 3).float().div_(255.0)  # [B, T, 3, H, W]
        return (x - self.mean) / self.std

    def prefix(self, pixel_values: torch.Tensor, n_layers: int) -> torch.Tensor:
        """Patch embeddings and the first `n_layers` encoder layers: tokens [B, N·keep, D].

        transformers' VideoMAEEmbeddings adds the (fixed sin-cos) position embeddings to every
        token and then drops the masked ones, so kept tokens keep their true positions.
        """
        mask = None
        if self.masked is not None:
            mask = self.masked.to(pixel_values.device).expand(pixel_values.shape[0], -1)
        h = self.encoder.embeddings(pixel_values, mask)
        for layer in self.encoder.encoder.layer[:n_layers]:
            h = layer(h)
        return h

    def suffix(self, hidden: torch.Tensor, start_layer: int) -> torch.Tensor:
        """Encoder layers from `start_layer` on, final norm, mean over the (kept) tokens,
        fc_norm: [B, D]."""
        for layer in self.encoder.encoder.layer[start_layer:]:
            hidden = layer(hidden)
        if self.encoder.layernorm is not None:
            hidden = self.encoder.layernorm(hidden)
        return self.fc_norm(hidden.mean(dim=1))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Normalised pixels [B, T, 3, H, W] -> pooled [B, D]."""
        return self.suffix(self.prefix(pixel_values, 0), 0)

    def prefix_parameters(self, n_layers: int) -> list[tuple[str, nn.Parameter]]:
        """Named parameters `prefix(x, n_layers)` depends on (patch embedding and the first
        `n_layers` encoder layers): what a feature-cache fingerprint must hash."""
        names = ("encoder.embeddings", *(f"encoder.encoder.layer.{i}." for i in range(n_layers)))
        return [(n, p) for n, p in self.named_parameters() if n.startswith(names)]

    def unfreeze_last(self, k: int) -> None:
        """Train only the last `k` encoder layers and the final norm(s); freeze the rest."""
        for p in self.parameters():
            p.requires_grad_(False)
        if k <= 0:
            return
        for layer in self.encoder.encoder.layer[-k:]:
            for p in layer.parameters():
                p.requires_grad_(True)
        for norm in (self.encoder.layernorm, self.fc_norm):
            if norm is not None:
                for p in norm.parameters():
                    p.requires_grad_(True)


def apply_speed_options(embedder: SceneEmbedder, runtime: RuntimeOptions) -> None:
    """Set an embedder's token fraction and clip budget for a run (issue 16).

    keep: `runtime.keep`, else the keep the checkpoint was trained with, else DEFAULT_KEEP.
    Clip budget: `runtime.max_clips_per_shot` (0 = no cap), else the model's sampling (whose
    default is DEFAULT_MAX_CLIPS_PER_SHOT). A backbone without tokens to drop (the image
    family) stays at 1.0 and the model's meta keeps what it had.
    """
    from dataclasses import replace

    meta = embedder.meta
    keep = runtime.keep if runtime.keep is not None else meta.keep
    keep = check_keep(DEFAULT_KEEP if keep is None else keep)
    embedder.backbone.set_keep(keep)
    if embedder.backbone.keep == keep:
        embedder.meta = meta = replace(meta, keep=keep)
    elif runtime.keep is not None and runtime.keep < 1.0:  # asked for, and nothing to drop
        log.warning("--keep %g: the %s backbone sees whole keyframes, it has no tokens to "
                    "drop; every frame is used", runtime.keep,
                    embedder.backbone.config.get("family", "image"))
    cap = runtime.max_clips_per_shot
    if cap is not None:
        if cap < 0:
            raise CheckpointError(f"--max-clips-per-shot: must be ≥ 0 (0 = no cap), not {cap}")
        embedder.meta = replace(meta, sampling=replace(meta.sampling,
                                                       max_clips_per_shot=cap or None))
