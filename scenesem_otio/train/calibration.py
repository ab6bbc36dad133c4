"""Calibration after training: θ that maximises boundary F1 on held-out films as `cut` sees them.

Each film is embedded once through the same path as `scenesem cut` (`pipeline.embed_film`);
the search over θ is pure numpy on the boundary scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scenesem_otio.config import SegmentOptions


@dataclass
class ScoredFilm:
    """A film's boundary scores at its shot cuts and its true scene cuts, in seconds."""

    scores: np.ndarray  # [n_shots - 1]
    shot_starts_s: list[float]  # [n_shots]
    duration_s: float
    truth_s: list[float]  # true scene cuts (film start excluded)


def score_films(embedder: Any, items: Sequence[Any], progress: bool = False
                ) -> list[ScoredFilm]:
    """Embed each training/validation film as `cut` would and score its shot cuts."""
    from scenesem_otio.pipeline import embed_film
    from scenesem_otio.segment import boundary_scores

    films = []
    for item in items:
        film = embed_film(item.path, embedder, progress=progress)
        fr = float(film.info.fps)
        films.append(ScoredFilm(
            scores=boundary_scores(film.shot_embeddings, SegmentOptions.window),
            shot_starts_s=[s.start / fr for s in film.shots], duration_s=film.info.duration_s,
            truth_s=sorted({s.start / float(item.info.fps) for s in item.scenes
                            if s.start > 0})))
    return films


def best_threshold(films: Sequence[ScoredFilm], min_scene_s: float, tolerance: float = 0.5
                   ) -> tuple[float | None, float | None]:
    """(θ, pooled boundary F1): every distinct score is a candidate; the lowest best wins."""
    from scenesem_otio.evaluate import boundary_prf, prf
    from scenesem_otio.segment import pick_boundaries

    candidates = sorted({float(x) for f in films for x in f.scores})
    best: tuple[float, float | None] = (-1.0, None)
    for theta in candidates:
        counts = np.zeros(3, np.int64)
        for f in films:
            cuts = pick_boundaries(f.scores, f.shot_starts_s, f.duration_s, theta,
                                   SegmentOptions.radius, min_scene_s)
            m = boundary_prf([f.shot_starts_s[k + 1] for k in cuts], f.truth_s, tolerance)
            counts += (m["hits"], m["n_pred"], m["n_truth"])
        f1 = prf(*(int(c) for c in counts))["f1"]
        if f1 > best[0] + 1e-12:
            best = (f1, theta)
    return (best[1], best[0]) if best[1] is not None else (None, None)


def calibrate_embedder(embedder: Any, items: Sequence[Any], min_scene_s: float,
                       progress: bool = False) -> tuple[float | None, float | None]:
    """θ maximising boundary F1 (±0.5 s) on `items`, with this minimum scene length."""
    return best_threshold(score_films(embedder, items, progress), min_scene_s)
