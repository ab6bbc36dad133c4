"""Unit vectors, shared by the text encoders and segmentation (numpy only)."""

from __future__ import annotations

import numpy as np


def normalise(x: np.ndarray, axis: int = -1, dtype: type = np.float64) -> np.ndarray:
    """Unit rows; all-zero rows stay zero instead of turning into NaN."""
    x = np.asarray(x, dtype=dtype)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
