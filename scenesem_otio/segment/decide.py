"""Segment stage: shot embeddings -> boundary scores -> scenes -> distances (SPEC §2.5–2.8).

Pure numpy, so it is cheap to test on hand-made embeddings and reusable by `eval` and training
(θ calibration) without touching the model.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from scenesem_otio.core.config import (
    DEFAULT_MIN_SCENE_S,
    DEFAULT_THRESHOLD_PERCENTILE,
    SegmentOptions,
)
from scenesem_otio.core.scenes import Scene, Shot
from scenesem_otio.core.vectors import normalise
from scenesem_otio.segment.count import (
    AUTO,
    SceneCount,
    choose_scene_count,
    film_centred,
    min_length_mask,
    segment_gains,
)


def boundary_scores(shots: np.ndarray, window: int = 2) -> np.ndarray:
    """b_k = (1 − cos(mean v[k−w+1..k], mean v[k+1..k+w])) / 2 for each of the n−1 boundaries."""
    if window < 1:
        raise ValueError("window must be at least 1")
    v = np.asarray(shots, dtype=np.float64)
    n = len(v)
    if n < 2:
        return np.zeros(0)
    prefix = np.concatenate([np.zeros((1, v.shape[1])), np.cumsum(v, axis=0)])
    k = np.arange(n - 1)
    lo = np.maximum(k - window + 1, 0)
    hi = np.minimum(k + 1 + window, n)
    left = normalise(prefix[k + 1] - prefix[lo])
    right = normalise(prefix[hi] - prefix[k + 1])
    cos = np.clip(np.sum(left * right, axis=1), -1.0, 1.0)
    return (1.0 - cos) / 2.0


def default_threshold(scores: np.ndarray,
                      percentile: float = DEFAULT_THRESHOLD_PERCENTILE) -> float:
    """θ without a calibrated checkpoint: the 80th percentile of this film's scores."""
    return float(np.percentile(scores, percentile)) if len(scores) else 1.0


def pick_boundaries(scores: np.ndarray, shot_starts_s: Sequence[float], duration_s: float,
                    threshold: float, radius: int = 1,
                    min_scene_s: float = DEFAULT_MIN_SCENE_S) -> list[int]:
    """Boundaries k (cut before shot k+1) that are scene cuts (§2.7).

    A candidate scores ≥ θ and is the maximum within ±radius boundaries; candidates are then
    accepted strongest first when both scenes they create stay ≥ min_scene seconds.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    if len(shot_starts_s) != n + 1:
        raise ValueError("need one start time per shot (one more than the scores)")
    candidates = []
    for k in range(n):
        lo, hi = max(0, k - radius), min(n, k + radius + 1)
        if scores[k] >= threshold and scores[k] >= scores[lo:hi].max():
            candidates.append(k)
    # Ties in a plateau: keep the first of equal neighbours only.
    candidates = [k for k in candidates if not (k > 0 and k - 1 in candidates
                                                and scores[k - 1] == scores[k])]
    accepted: list[float] = [0.0, duration_s]
    chosen = []
    eps = 1e-9
    for k in sorted(candidates, key=lambda k: (-scores[k], k)):
        t = float(shot_starts_s[k + 1])
        if all(abs(t - a) >= min_scene_s - eps for a in accepted):
            accepted.append(t)
            chosen.append(k)
    return sorted(chosen)


def grouping_score(shots: np.ndarray, starts: Sequence[int]) -> float:
    """Within-scene similarity of a grouping: Σ_scenes ‖Σ v‖² / |scene| (= Σ_ij cos / n)."""
    v = np.asarray(shots, dtype=np.float64)
    bounds = [*starts, len(v)]
    total = 0.0
    for a, b in itertools.pairwise(bounds):
        s = v[a:b].sum(axis=0)
        total += float(s @ s) / (b - a)
    return total


def optimal_grouping(shots: np.ndarray, n_scenes: int, allowed: np.ndarray | None = None
                     ) -> list[int]:
    """Exactly N scenes of consecutive shots maximising within-scene similarity (OSG by DP).

    The objective is `grouping_score`: for unit vectors it equals the sum over scenes of the
    mean pairwise cosine × size, i.e. k-means on the sphere constrained to be sequential. Prefix
    sums make every segment's score O(1) from one Gram matrix, so the DP is O(N · shots²).
    `allowed[i, j]`: shots i..j−1 may form a scene (`count.min_length_mask`); when N such
    scenes cannot fit, the limit is dropped. Returns the first shot of each scene.
    """
    v = np.asarray(shots, dtype=np.float64)
    n = len(v)
    if not 1 <= n_scenes <= n:
        raise ValueError(f"cannot make {n_scenes} scenes from {n} shots")
    starts = None
    if allowed is not None:
        starts = sequential_partition(segment_gains(v, allowed), n_scenes)
    if starts is None:
        starts = sequential_partition(segment_gains(v), n_scenes)  # gain[i, j]: shots i..j−1
    assert starts is not None  # every N ≤ n is feasible
    return starts


def sequential_partition(score: np.ndarray, n_scenes: int) -> list[int] | None:
    """The N consecutive segments of items 0..n−1 maximising Σ score[i, j] (segment i..j−1).

    `score` is [n+1, n+1] with −inf where a segment is not allowed. Dynamic programming,
    O(N · n²); returns the first item of each segment, or None when no N segments fit.
    Shared by optimal sequential grouping and the boundary model's exactly-N decoding.
    """
    n = len(score) - 1
    idx = np.arange(n + 1)
    best = np.full(n + 1, -np.inf)
    best[0] = 0.0
    back = np.zeros((n_scenes + 1, n + 1), dtype=np.int64)
    for level in range(1, n_scenes + 1):
        cand = best[:, None] + score  # [i, j]
        back[level] = np.argmax(cand, axis=0)
        best = cand[back[level], idx]
    if not np.isfinite(best[n]):
        return None
    starts = []
    j = n
    for level in range(n_scenes, 0, -1):
        i = int(back[level, j])
        starts.append(i)
        j = i
    return sorted(starts)


def scene_embeddings(shots: np.ndarray, starts: Sequence[int]) -> np.ndarray:
    """s_i = normalised mean of the scene's shot embeddings (§2.8)."""
    v = np.asarray(shots, dtype=np.float64)
    bounds = [*starts, len(v)]
    return normalise(np.stack([v[a:b].sum(axis=0) for a, b in itertools.pairwise(bounds)]))


def distance_matrix(embeddings: np.ndarray) -> np.ndarray:
    """D_ij = (1 − cos(s_i, s_j)) / 2 ∈ [0, 1]."""
    s = normalise(embeddings)
    return np.clip((1.0 - s @ s.T) / 2.0, 0.0, 1.0)


def nearest_earlier(distances: np.ndarray, index: int, top: int = 3) -> list[tuple[int, float]]:
    """The closest scenes before `index − 1` (the previous scene is reported on its own):
    where the film returns to a place or thread."""
    earlier = [(j, float(distances[index, j])) for j in range(index - 1)]
    return sorted(earlier, key=lambda p: (p[1], p[0]))[:top]


def build_scenes(shots: Sequence[Shot], shot_emb: np.ndarray, starts: Sequence[int],
                 scores: np.ndarray | None = None, top: int = 3) -> list[Scene]:
    """Scenes from their first shots, with boundary score, distances and embedding filled in."""
    starts = sorted(set(starts) | {0})
    emb = scene_embeddings(shot_emb, starts)
    dist = distance_matrix(emb)
    bounds = [*starts, len(shots)]
    scenes = []
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        scenes.append(Scene(
            index=i, start=shots[a].start, end=shots[b - 1].end, first_shot=a, n_shots=b - a,
            boundary_score=(float(scores[a - 1]) if scores is not None and a > 0 else None),
            distance_prev=float(dist[i, i - 1]) if i > 0 else None,
            nearest=nearest_earlier(dist, i, top),
            embedding=[float(x) for x in emb[i]],
        ))
    return scenes


class Segmented(NamedTuple):
    """What `segment` made of a film."""

    scenes: list[Scene]
    scores: np.ndarray  # boundary score per shot cut
    threshold: float  # θ as applied (the film's 80th percentile when none was given)
    min_scene_s: float  # the shortest scene allowed, as applied
    scene_count: SceneCount | None = None  # how N was chosen, with `n_scenes="auto"`


def segment(shots: Sequence[Shot], shot_emb: np.ndarray, fps: float,
            options: SegmentOptions = SegmentOptions(), scores: np.ndarray | None = None,
            progress: bool = False) -> Segmented:
    """Shots + their embeddings -> scenes, boundary scores, θ used (and the count's choice).

    `scores`: a boundary model's probabilities per shot cut; without them, the cosine rule.
    Exactly N scenes come from optimal sequential grouping of the film-centred embeddings, or
    with a boundary model from the N − 1 cuts of highest summed log-odds (measured better:
    issue 15). `n_scenes="auto"` chooses N from the film (`count.choose_scene_count`).
    Scenes chosen by count (auto, or N grouped without a boundary model) are as short as the
    grouping likes unless `min_scene_s` is set; θ decoding and a boundary model's N fall back
    to the fixed default minimum.
    """
    learned = scores is not None
    scores = boundary_scores(shot_emb, options.window) if scores is None else scores
    theta = default_threshold(scores) if options.threshold is None else float(options.threshold)
    starts_s = [s.start / fps for s in shots]
    duration = shots[-1].end / fps if shots else 0.0
    by_count = options.n_scenes == AUTO or (options.n_scenes is not None and not learned)
    min_scene = options.min_scene_s
    if min_scene is None:
        min_scene = 0.0 if by_count else DEFAULT_MIN_SCENE_S
    count = None
    if options.n_scenes == AUTO:
        count = choose_scene_count(shot_emb, starts_s, duration, min_scene, progress)
        if not learned:  # the grouping the count was chosen with
            return Segmented(build_scenes(shots, shot_emb, count.starts, scores), scores, theta,
                             min_scene, count)
        options = replace(options, n_scenes=count.n)
    if options.n_scenes is not None and learned:
        starts = decode_n_scenes(scores, min(int(options.n_scenes), len(shots)), starts_s,
                                 duration, min_scene)
    elif options.n_scenes is not None:
        starts = optimal_grouping(film_centred(shot_emb), min(int(options.n_scenes), len(shots)),
                                  min_length_mask(starts_s, duration, min_scene))
    else:
        cuts = pick_boundaries(scores, starts_s, duration, theta, options.radius, min_scene)
        starts = [0, *(k + 1 for k in cuts)]
    return Segmented(build_scenes(shots, shot_emb, starts, scores), scores, theta, min_scene,
                     count)


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
