"""Model stage 3: backbone + head = SceneEmbedder, batched embedding, device and precision.

Checkpoints (save/load) live in `model/checkpoint.py`; the embedder carries its `ModelMeta`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scenesem_otio.errors import CheckpointError
from scenesem_otio.model.backbone import VideoBackbone
from scenesem_otio.model.checkpoint import ModelMeta, is_checkpoint, load_checkpoint
from scenesem_otio.model.head import EmbeddingHead

log = logging.getLogger("scenesem")

def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise CheckpointError("--device cuda: no CUDA device is available (use --device cpu)")
    return torch.device(device)


def cpu_name() -> str:
    """The CPU's model name, for benchmark tables (CPUs differ between machines)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown CPU"
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else "unknown CPU"


def cpu_has_fast_bf16() -> bool:
    """AMX or AVX512-BF16: where bf16 autocast is faster than fp32 on the CPU."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype, or None for plain fp32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_has_fast_bf16() else None


class SceneEmbedder(nn.Module):
    """Clips -> L2-normalised scene-space embeddings.

    Without a trained head the embedding is the normalised pooled feature itself: a random
    head would only scramble distances.
    """

    def __init__(self, backbone: VideoBackbone, head: EmbeddingHead | None = None,
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

    def set_boundary(self, model: nn.Module | None) -> None:
        self.__dict__["boundary"] = model

    @property
    def device(self) -> torch.device:
        return self.backbone.mean.device

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


def load_embedder(name_or_dir: str | os.PathLike | None = None, device: str = "auto",
                  precision: str = "auto", choice: str | None = None) -> SceneEmbedder:
    """A scenesem checkpoint, a save_pretrained directory, a hub id, `embedded` (the ImageNet
    EfficientNet-Lite0 that installs with the package) or `auto`/None -> a ready embedder.

    `auto` takes VideoMAE-base when it is cached or the hub answers within ~2 s, else the
    embedded model (`model.choose`); the reason is logged and kept in `embedder.choice`
    (`choice`: the reason a caller that already decided gives).
    """
    from scenesem_otio.model.choose import EMBEDDED, choose_model

    name, reason = choose_model(name_or_dir)
    reason = choice or reason
    log.info("model: %s", reason)
    if name == EMBEDDED:
        from scenesem_otio.model.efficientnet import ImageBackbone

        embedder = SceneEmbedder(ImageBackbone.pretrained(), None, ModelMeta(backbone=EMBEDDED))
    elif is_checkpoint(name):
        embedder = load_checkpoint(name)
    else:
        backbone = VideoBackbone.from_pretrained(name)
        embedder = SceneEmbedder(backbone, None, ModelMeta(backbone=name))
    embedder.choice = reason
    dev = resolve_device(device)
    embedder.to(dev)
    embedder.autocast_dtype = resolve_dtype(precision, dev)
    embedder.eval()
    return embedder
