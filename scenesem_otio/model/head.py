"""Model stage 2: the scene-embedding head, Linear -> ReLU -> Linear, L2-normalised (SPEC §2.5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class EmbeddingHead(nn.Module):
    """Compresses pooled VideoMAE features into the space where scene distances are measured."""

    def __init__(self, d: int, hidden: int = 512, out: int = 256) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, out)
        self.dims = (d, hidden, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.fc2(F.relu(self.fc1(x))), dim=-1)
