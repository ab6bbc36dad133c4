"""Embedding augmentation for the boundary model: the one home of the rule that both its
second stage (`train.boundary`, numpy) and joint training (`train.trainer`, torch) apply.

What lets a model fitted on ~20 films judge unseen ones: Gaussian noise on the unit shot
embeddings and whole embedding dimensions dropped per film.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NOISE = 0.4  # Gaussian noise on the unit shot embeddings (norm ≈ NOISE)
DIM_DROPOUT = 0.1  # share of embedding dimensions dropped per film


def perturb(x: Any, gaussian: Callable[[Any], Any], uniform: Callable[[int], Any],
            noise: float = NOISE, dim_dropout: float = DIM_DROPOUT) -> Any:
    """x + N(0, noise² / E) per value, then each of the E dimensions zeroed with probability
    `dim_dropout`. `gaussian(shape)` and `uniform(n)` draw from the caller's generator (numpy
    or torch), in that order, so a seeded run draws the same numbers it always did."""
    dim = x.shape[-1]
    x = x + gaussian(x.shape) * noise / dim ** 0.5
    return x * (uniform(dim) >= dim_dropout)
