"""Synthetic test films with known cut frames, encoded for real (H.264 through PyAV)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from scenesem_otio.media.encode import VideoWriter


def shot_frames(seed: int, n: int, width: int, height: int) -> np.ndarray:
    """Frames of one shot: a textured background unique to `seed` and a moving square.

    Neighbouring shots differ strongly in colour and texture so any shot detector finds the cut
    on the exact frame; the moving square keeps frames within a shot from being identical.
    """
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=3)
    yy, xx = np.mgrid[0:height, 0:width]
    fx, fy = rng.uniform(0.02, 0.12, size=2)
    tex = (np.sin(xx * fx + rng.uniform(0, 6)) * np.cos(yy * fy) * 60).astype(np.int16)
    bg = np.clip(base[None, None, :] + tex[..., None], 0, 255).astype(np.uint8)
    out = np.empty((n, height, width, 3), np.uint8)
    side = max(4, height // 6)
    for i in range(n):
        f = bg.copy()
        x = (i * 3) % max(1, width - side)
        y = (height - side) // 2
        f[y : y + side, x : x + side] = 255 - base
        out[i] = f
    return out


def render_film(
    path: Path,
    fps: Fraction | int | str,
    shot_lengths: list[int],
    width: int = 320,
    height: int = 180,
    timecode: str | None = None,
    seeds: list[int] | None = None,
) -> list[int]:
    """Write a film whose shots have `shot_lengths` frames; return the cut frames (shot starts).

    `seeds` lets two shots share a look (same seed = same place) to build scenes.
    """
    seeds = seeds or list(range(len(shot_lengths)))
    cuts = []
    with VideoWriter(path, fps, width, height, timecode=timecode) as w:
        for seed, n in zip(seeds, shot_lengths):
            cuts.append(w.n_frames)
            for frame in shot_frames(seed, n, width, height):
                w.write(frame)
    return cuts[1:]
