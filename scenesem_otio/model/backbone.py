"""Model stage 1: VideoMAE encoder -> one pooled vector per clip (SPEC §2.4).

VideoMAE has no CLS token: the pooled vector is the mean of `last_hidden_state` over tokens
followed by a LayerNorm (`fc_norm`, as in VideoMAEForVideoClassification). That vector is what
the design calls "the output CLS token".
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from scenesem_otio.config import DEFAULT_MODEL
from scenesem_otio.errors import CheckpointError

log = logging.getLogger("scenesem")

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # VideoMAEImageProcessor defaults
IMAGENET_STD = (0.229, 0.224, 0.225)


class VideoBackbone(nn.Module):
    """A `transformers.VideoMAEModel` plus mean pooling and `fc_norm`."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder  # transformers.VideoMAEModel
        self.fc_norm = nn.LayerNorm(encoder.config.hidden_size,
                                    eps=encoder.config.layer_norm_eps)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 1, 3, 1, 1),
                             persistent=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, config: object) -> VideoBackbone:
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
    def config(self) -> object:
        return self.encoder.config

    @property
    def image_size(self) -> int:
        return int(self.encoder.config.image_size)

    @property
    def num_frames(self) -> int:
        return int(self.encoder.config.num_frames)

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)

    @property
    def num_layers(self) -> int:
        return len(self.encoder.encoder.layer)

    # ------------------------------------------------------------------ compute
    def preprocess(self, clips: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 [B, T, H, W, 3] -> normalised float [B, T, 3, H, W] on this module's device."""
        x = torch.as_tensor(clips, device=self.mean.device)
        x = x.permute(0, 1, 4, 2, 3).float().div_(255.0)  # [B, T, 3, H, W]
        return (x - self.mean) / self.std

    def prefix(self, pixel_values: torch.Tensor, n_layers: int) -> torch.Tensor:
        """Patch embeddings and the first `n_layers` encoder layers: tokens [B, N, D]."""
        h = self.encoder.embeddings(pixel_values, None)
        for layer in self.encoder.encoder.layer[:n_layers]:
            h = layer(h)
        return h

    def suffix(self, hidden: torch.Tensor, start_layer: int) -> torch.Tensor:
        """Encoder layers from `start_layer` on, final norm, mean over tokens, fc_norm: [B, D]."""
        for layer in self.encoder.encoder.layer[start_layer:]:
            hidden = layer(hidden)
        if getattr(self.encoder, "layernorm", None) is not None:
            hidden = self.encoder.layernorm(hidden)
        return self.fc_norm(hidden.mean(dim=1))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Normalised pixels [B, T, 3, H, W] -> pooled [B, D]."""
        return self.suffix(self.prefix(pixel_values, 0), 0)

    def unfreeze_last(self, k: int) -> None:
        """Train only the last `k` encoder layers and the final norm(s); freeze the rest."""
        for p in self.parameters():
            p.requires_grad_(False)
        if k <= 0:
            return
        for layer in self.encoder.encoder.layer[-k:]:
            for p in layer.parameters():
                p.requires_grad_(True)
        for norm in (getattr(self.encoder, "layernorm", None), self.fc_norm):
            if norm is not None:
                for p in norm.parameters():
                    p.requires_grad_(True)
