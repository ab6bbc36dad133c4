"""Unit vectors, shared by the embed stage, the text encoders and segmentation (numpy only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def normalise(x: np.ndarray, axis: int = -1, dtype: type = np.float64) -> np.ndarray:
    """Unit rows; all-zero rows stay zero instead of turning into NaN."""
    x = np.asarray(x, dtype=dtype)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def shot_embeddings(clip_embeddings: np.ndarray, clip_shots: Sequence[int],
                    n_shots: int) -> np.ndarray:
    """Shot embedding = normalised mean of its clips' embeddings (§2.5). Shape [n_shots, E]."""
    clip_embeddings = np.asarray(clip_embeddings, dtype=np.float64)
    owners = np.asarray(clip_shots, dtype=np.int64)
    if len(owners) != len(clip_embeddings):
        raise ValueError("one shot index per clip embedding is needed")
    sums = np.zeros((n_shots, clip_embeddings.shape[1]))
    np.add.at(sums, owners, clip_embeddings)
    return normalise(sums)
