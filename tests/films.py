"""Synthetic test films with known cut frames, encoded for real (H.264 through PyAV)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from scenesem_otio.media.encode import VideoWriter


def shot_frames(seed: int, n: int, width: int, height: int, angle: int = 0) -> np.ndarray:
    """Frames of one shot: a textured background unique to `seed` and a moving square.

    Neighbouring shots differ strongly in colour and texture so any shot detector finds the cut
    on the exact frame; the moving square keeps frames within a shot from being identical.
    """
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=3)
    yy, xx = np.mgrid[0:height, 0:width]
    fx, fy = rng.uniform(0.02, 0.12, size=2)
    phase = rng.uniform(0, 6)
    if angle:  # another camera angle on the same place: same colours, different framing
        view = np.random.default_rng((seed, angle))
        fx, fy = view.uniform(0.02, 0.12, size=2)
        phase = view.uniform(0, 6)
        base = np.clip(base + view.integers(-40, 41, size=3), 0, 255)
    tex = (np.sin(xx * fx + phase) * np.cos(yy * fy) * 60).astype(np.int16)
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

    `seeds` lets shots share a place (same seed = same colours, a new camera angle each time
    the place comes back in a row) to build scenes whose shot cuts are still detectable.
    """
    seeds = seeds or list(range(len(shot_lengths)))
    cuts = []
    angle = 0
    with VideoWriter(path, fps, width, height, timecode=timecode) as w:
        for k, (seed, n) in enumerate(zip(seeds, shot_lengths)):
            angle = angle + 1 if k and seeds[k - 1] == seed else 0
            cuts.append(w.n_frames)
            for frame in shot_frames(seed, n, width, height, angle):
                w.write(frame)
    return cuts[1:]
