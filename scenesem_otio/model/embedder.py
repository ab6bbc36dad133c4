"""Model stage 3: backbone + head = SceneEmbedder; batched embedding and safetensors checkpoints.

A checkpoint is a directory: `scenesem.json` (everything needed to rebuild and use the model:
backbone config, trained layers, head dims, clip sampling, calibrated θ and text a/b),
`model.safetensors` and the backbone's `config.json` (SPEC §3.5). Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scenesem_otio.errors import CheckpointError
from scenesem_otio.fileio import atomic_dir
from scenesem_otio.model.backbone import DEFAULT_BACKBONE, VideoBackbone
from scenesem_otio.model.head import EmbeddingHead

log = logging.getLogger("scenesem")

FORMAT = 1
META_FILE = "scenesem.json"
WEIGHTS_FILE = "model.safetensors"


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise CheckpointError("--device cuda: no CUDA device is available (use --device cpu)")
    return torch.device(device)


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

    def __init__(self, backbone: VideoBackbone, head: EmbeddingHead | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.autocast_dtype: torch.dtype | None = None

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


def default_meta(backbone: VideoBackbone, head: EmbeddingHead | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "backbone_config": backbone.config.to_dict(),
        "pooling": "mean+fc_norm",
        "head": list(head.dims) if head is not None else None,
        "unfreeze": 0,
        "sampling": {"num_frames": backbone.num_frames, "image_size": backbone.image_size,
                     "clip_every_s": 4.0, "clip_span_s": 2.0},
        "threshold": None,
        "text_a": None,
        "text_b": None,
        "label_mode": None,
        "text_model": None,
    }


def save_checkpoint(embedder: SceneEmbedder, directory: str | os.PathLike,
                    meta: dict[str, Any] | None = None,
                    extra: Any = None) -> None:
    """Write the checkpoint directory atomically (old one kept until the new one is whole).

    `extra(tmp_dir)` may add files (trainer state, metrics) inside the same atomic swap.
    """
    import transformers
    from safetensors.torch import save_file

    from scenesem_otio import __version__

    full = default_meta(embedder.backbone, embedder.head)
    full.update(meta or {})
    full["versions"] = {"scenesem": __version__, "torch": torch.__version__,
                        "transformers": transformers.__version__}
    state = {k: v.detach().cpu().contiguous() for k, v in embedder.state_dict().items()}
    from safetensors import SafetensorError

    try:
        with atomic_dir(directory) as tmp:
            save_file(state, str(tmp / WEIGHTS_FILE))
            (tmp / "config.json").write_text(embedder.backbone.config.to_json_string())
            (tmp / META_FILE).write_text(json.dumps(full, indent=2, default=str))
            if extra is not None:
                extra(tmp)
    except (OSError, SafetensorError) as err:  # disk full, quota, permissions
        detail = getattr(err, "strerror", None) or str(err).split(": ")[-1]
        raise CheckpointError(f"{directory}: cannot write the checkpoint ({detail}); the "
                              "previous checkpoint, if any, is untouched") from None


def is_checkpoint(path: str | os.PathLike) -> bool:
    return (Path(path) / META_FILE).is_file()


def load_checkpoint(directory: str | os.PathLike) -> tuple[SceneEmbedder, dict[str, Any]]:
    """Rebuild a SceneEmbedder from a scenesem checkpoint directory alone."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from transformers import VideoMAEConfig

    directory = Path(directory)
    try:
        meta = json.loads((directory / META_FILE).read_text())
        config = VideoMAEConfig.from_dict(meta["backbone_config"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{directory}: unreadable {META_FILE} ({err})") from None
    if not (directory / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{directory}: missing {WEIGHTS_FILE}")
    backbone = VideoBackbone.from_config(config)
    head = EmbeddingHead(*meta["head"]) if meta.get("head") else None
    embedder = SceneEmbedder(backbone, head)
    try:
        state = load_file(str(directory / WEIGHTS_FILE))
        embedder.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, OSError) as err:
        raise CheckpointError(f"{directory}: weights do not match the model "
                              f"({str(err).splitlines()[0][:200]})") from None
    return embedder, meta


def load_embedder(name_or_dir: str | os.PathLike | None = None, device: str = "auto",
                  precision: str = "auto") -> tuple[SceneEmbedder, dict[str, Any]]:
    """A scenesem checkpoint, a save_pretrained directory or a hub id -> (embedder, meta)."""
    name = str(name_or_dir or DEFAULT_BACKBONE)
    if is_checkpoint(name):
        embedder, meta = load_checkpoint(name)
    else:
        backbone = VideoBackbone.from_pretrained(name)
        embedder = SceneEmbedder(backbone, None)
        meta = default_meta(backbone, None)
        meta["backbone"] = name
    dev = resolve_device(device)
    embedder.to(dev)
    embedder.autocast_dtype = resolve_dtype(precision, dev)
    embedder.eval()
    return embedder, meta
