"""Segment stage settings learned from data: θ and minimum scene length for boundary F1
(SPEC §2.7).

Numpy only. Decoding is `decide.pick_boundaries` (θ, local maximum within ±r, min scene), the
rule `cut` applies, so the F1 maximised here is the F1 `cut` then gets on these films.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scenesem_otio.evaluate.metrics import boundary_prf, match_boundaries, prf_arrays
from scenesem_otio.segment.decide import pick_boundaries


@dataclass
class ScoredFilm:
    """One validation film as the decoder sees it."""

    scores: np.ndarray  # [n − 1] boundary score (cosine rule or probability) per transition
    shot_starts_s: Sequence[float]  # [n]
    duration_s: float
    truth_s: Sequence[float]  # true scene boundaries in seconds (film start excluded)


@dataclass
class DecodingFit:
    """The decoding settings `fit_decoding` chose and the validation F1 they reach.

    Its `as_meta` fields become a checkpoint's `model.meta.Calibration`."""

    threshold: float
    min_scene_s: float
    f1: float
    precision: float
    recall: float

    def as_meta(self) -> dict[str, float]:
        """The checkpoint fields (`threshold`, `min_scene_s`, `calibration_f1`)."""
        return {"threshold": self.threshold, "min_scene_s": self.min_scene_s,
                "calibration_f1": self.f1}


def min_scene_grid(truth_scene_lengths_s: Sequence[float], steps: int = 8,
                   cap_s: float = 8.0) -> list[float]:
    """Min-scene candidates from the data: 0 up to the 10th percentile of true scene lengths
    (never above `cap_s`), `steps` even steps, rounded to 0.1 s. A minimum longer than most
    scenes can only cost recall, so the grid stops where scenes start to be that short."""
    lengths = np.asarray([x for x in truth_scene_lengths_s if x > 0], dtype=np.float64)
    top = min(cap_s, float(np.percentile(lengths, 10))) if len(lengths) else cap_s
    return sorted({round(float(x), 1) for x in np.linspace(0.0, top, steps + 1)})


def _accept_order(scores: np.ndarray, starts: Sequence[float], duration: float, radius: int,
                  min_scene_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Cuts that `pick_boundaries` accepts at θ = −∞, and their scores.

    The local-maximum test does not depend on θ, and candidates are accepted strongest first,
    so the cuts accepted at any θ are exactly these with score ≥ θ: one pass serves every θ.
    """
    cuts = pick_boundaries(scores, starts, duration, -np.inf, radius, min_scene_s)
    return np.asarray(cuts, dtype=np.int64), np.asarray(scores, dtype=np.float64)[cuts]


def sweep(films: Sequence[ScoredFilm], min_scene_s: float, radius: int = 1,
          tolerance: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pooled P, R, F1 at every distinct score as θ (ascending) for one min-scene value.

    Returns (thetas, precision, recall, f1); θ = thetas[j] keeps the cuts scoring ≥ thetas[j].
    """
    thetas = np.unique(np.concatenate([np.asarray(f.scores, dtype=np.float64) for f in films]
                                      + [np.zeros(0)]))
    thetas = thetas[np.isfinite(thetas)]
    hits = np.zeros(len(thetas))
    n_pred = np.zeros(len(thetas))
    n_truth = 0
    for film in films:
        truth = [float(t) for t in film.truth_s]
        n_truth += len(truth)
        cuts, cut_scores = _accept_order(np.asarray(film.scores, dtype=np.float64),
                                         film.shot_starts_s, film.duration_s, radius,
                                         min_scene_s)
        order = np.argsort(-cut_scores, kind="stable")
        times = [float(film.shot_starts_s[int(cuts[i]) + 1]) for i in order]
        ranked = cut_scores[order]
        # Hits for the m strongest cuts, m = 0 … len(cuts) (greedy matching is not
        # incremental, so each prefix is matched afresh).
        prefix_hits = np.array([match_boundaries(times[:m], truth, tolerance)
                                for m in range(len(times) + 1)], dtype=np.float64)
        # At θ, the cuts kept are those with score ≥ θ: a prefix of `ranked`.
        m = np.searchsorted(-ranked, -thetas, side="right")
        hits += prefix_hits[m]
        n_pred += m
    p, r, f = prf_arrays(hits, n_pred, n_truth)
    return thetas, p, r, f


def fit_decoding(films: Sequence[ScoredFilm], min_scene_values: Sequence[float] | None = None,
              radius: int = 1, tolerance: float = 0.5) -> DecodingFit:
    """θ and min scene maximising pooled boundary F1 (±`tolerance` s) on validation films.

    Every distinct score is a θ candidate, every `min_scene_values` entry (default: the
    `min_scene_grid` of the films' true scene lengths) a min-scene candidate. Among settings
    with the best F1, the widest run of θ values scoring it wins and θ is put at that run's
    middle (half-way between scores), so a test film's scores need not land exactly where
    validation's did; remaining ties go to the smaller min scene.
    """
    films = [f for f in films if len(f.shot_starts_s) >= 1]
    if not films:
        raise ValueError("calibration needs at least one validation film")
    if min_scene_values is None:
        lengths = []
        for film in films:
            bounds = [0.0, *sorted(float(t) for t in film.truth_s), float(film.duration_s)]
            lengths += list(np.diff(bounds))
        min_scene_values = min_scene_grid(lengths)
    best: tuple[float, float, float] | None = None  # (f1, width, −min_scene)
    choice = DecodingFit(threshold=1.0, min_scene_s=0.0, f1=0.0, precision=0.0, recall=0.0)
    for ms in sorted({float(x) for x in min_scene_values}):
        thetas, p, r, f = sweep(films, ms, radius, tolerance)
        if len(thetas) == 0:
            continue
        top = float(f.max())
        on = np.isclose(f, top, rtol=0, atol=1e-12)
        # Maximal runs of consecutive thetas at the top F1; run [a, b] holds for any θ in
        # (thetas[a − 1], thetas[b]] (θ ≤ thetas[0] for a = 0).
        j = 0
        while j < len(thetas):
            if not on[j]:
                j += 1
                continue
            a = j
            while j + 1 < len(thetas) and on[j + 1]:
                j += 1
            b = j
            low = thetas[a - 1] if a > 0 else thetas[0]
            width = float(thetas[b] - low)
            theta = float((low + thetas[b]) / 2)
            if a > 0 and not theta > low:  # adjacent floats: no room in between
                theta = float(thetas[b])
            key = (top, width, -ms)
            if best is None or key > best:
                best = key
                choice = DecodingFit(threshold=theta, min_scene_s=ms, f1=top,
                                     precision=float(p[b]), recall=float(r[b]))
            j += 1
    return choice


def decoded_f1(films: Sequence[ScoredFilm], threshold: float, min_scene_s: float,
               radius: int = 1, tolerance: float = 0.5) -> float:
    """Pooled F1 of `pick_boundaries` at one setting: the plain loop `calibrate` must match."""
    hits = n_pred = n_truth = 0
    for film in films:
        cuts = pick_boundaries(np.asarray(film.scores), film.shot_starts_s, film.duration_s,
                               threshold, radius, min_scene_s)
        m = boundary_prf([float(film.shot_starts_s[k + 1]) for k in cuts],
                         [float(t) for t in film.truth_s], tolerance)
        hits, n_pred, n_truth = hits + m["hits"], n_pred + m["n_pred"], n_truth + m["n_truth"]
    return float(prf_arrays(hits, n_pred, n_truth)[2])
