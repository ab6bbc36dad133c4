"""Segment stage settings learned from data: θ and minimum scene length for boundary F1, and
exactly-N-scenes decoding from boundary probabilities (SPEC §2.7).

Numpy only. Decoding is `segment.pick_boundaries` (θ, local maximum within ±r, min scene), the
rule `cut` applies, so the F1 maximised here is the F1 `cut` then gets on these films.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scenesem_otio.evaluate import boundary_prf, match_boundaries
from scenesem_otio.segment import pick_boundaries, sequential_partition


@dataclass
class ScoredFilm:
    """One validation film as the decoder sees it."""

    scores: np.ndarray  # [n − 1] boundary score (cosine rule or probability) per transition
    shot_starts_s: Sequence[float]  # [n]
    duration_s: float
    truth_s: Sequence[float]  # true scene boundaries in seconds (film start excluded)


@dataclass
class Calibration:
    """The chosen decoding settings and the validation F1 they reach."""

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


def _f1(hits: np.ndarray, n_pred: np.ndarray, n_truth: int) -> tuple[np.ndarray, ...]:
    """Pooled P/R/F1 with `evaluate.overall`'s conventions for empty sides."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n_pred > 0, hits / np.maximum(n_pred, 1), 1.0 if n_truth == 0 else 0.0)
        r = (hits / n_truth if n_truth else np.where(n_pred > 0, 0.0, 1.0)) * np.ones_like(p)
        f = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
    return p, r, f


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
    p, r, f = _f1(hits, n_pred, n_truth)
    return thetas, p, r, f


def calibrate(films: Sequence[ScoredFilm], min_scene_values: Sequence[float] | None = None,
              radius: int = 1, tolerance: float = 0.5) -> Calibration:
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
        for f in films:
            bounds = [0.0, *sorted(float(t) for t in f.truth_s), float(f.duration_s)]
            lengths += list(np.diff(bounds))
        min_scene_values = min_scene_grid(lengths)
    best: tuple[float, float, float] | None = None  # (f1, width, −min_scene)
    choice = Calibration(threshold=1.0, min_scene_s=0.0, f1=0.0, precision=0.0, recall=0.0)
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
                choice = Calibration(threshold=theta, min_scene_s=ms, f1=top,
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
    return float(_f1(np.array([hits], float), np.array([n_pred], float), n_truth)[2][0])


# ---------------------------------------------------------------- exactly N scenes


def logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """log(p / (1 − p)), clipped so that p = 0 or 1 stays finite."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def decode_n_scenes(probs: np.ndarray, n_scenes: int, shot_starts_s: Sequence[float] | None = None,
                    duration_s: float | None = None, min_scene_s: float = 0.0) -> list[int]:
    """Exactly N scenes from boundary probabilities: the first shot of each scene.

    Chooses the N − 1 cuts that maximise Σ log p (cuts) + Σ log(1 − p) (other transitions),
    i.e. the summed log-odds of the chosen cuts, with every scene ≥ `min_scene_s` seconds
    (needs `shot_starts_s` and `duration_s`). Dynamic programming over (scenes, shot),
    O(N · shots²); if no N scenes can all be that long, the length limit is dropped.
    """
    gain = logit(probs)
    n = len(gain) + 1
    if not 1 <= n_scenes <= n:
        raise ValueError(f"cannot make {n_scenes} scenes from {n} shots")
    if min_scene_s > 0 and shot_starts_s is not None and duration_s is not None:
        if len(shot_starts_s) != n:
            raise ValueError("need one start time per shot (one more than the probabilities)")
        edges = np.append(np.asarray(shot_starts_s, dtype=np.float64), float(duration_s))
        ok = (edges[None, :] - edges[:, None]) >= min_scene_s - 1e-9  # ok[i, j]: shots i..j−1
        starts = _dp(gain, n_scenes, ok)
        if starts is not None:
            return starts
    length_ok = np.ones((n + 1, n + 1), dtype=bool)
    starts = _dp(gain, n_scenes, length_ok)
    assert starts is not None  # any N ≤ n is feasible without a length limit
    return starts


def _dp(gain: np.ndarray, n_scenes: int, ok: np.ndarray) -> list[int] | None:
    """best[l, j]: the best summed gain of l scenes tiling shots 0..j−1; a scene starting at
    shot i > 0 earns gain[i − 1]."""
    n = len(gain) + 1
    idx = np.arange(n + 1)
    valid = (idx[None, :] > idx[:, None]) & ok  # [i, j]: a scene of shots i..j−1
    enter = np.concatenate([[0.0], gain, [0.0]])  # earned by a scene starting at i
    return sequential_partition(np.where(valid, enter[:, None], -np.inf), n_scenes)
