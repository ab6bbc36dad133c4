"""How many scenes, when nobody said: `--scenes auto` (issue 25). Part of the segment stage.

Without a calibrated checkpoint, a fixed θ (a percentile of the film's own scores) and a fixed
minimum scene cut too few scenes where scenes are short and too many where they are long. Given
the right count, optimal sequential grouping (OSG) of the shot embeddings is close to the truth,
so the decision is the count. Every N gets its optimal grouping (one dynamic programme serves
all N), and N is where the groupings' **sequential silhouette** peaks: for each shot, how much
closer it is to the other shots of its scene than to those of the nearer neighbouring scene,
(b − a) / max(a, b), averaged over shots. Neighbouring scenes only, because scenes are runs: a
setting the film returns to later is another scene, not a neighbour to be confused with.

Measured on real re-edited footage (benchmarks/real_footage.py: five constructions, from
scenes of 2–4 shots to scenes of a dozen, two to five settings, settings that come back,
one-take scenes) against a penalised within-scene cost (W(N) + c·σ²·N, σ² from neighbouring
shots), a BIC, the gap statistic against shuffled shot orders, Calinski–Harabasz, a
two-component mixture of the boundary scores and runs of clustered shots: each of those lost
badly on at least one construction (every penalty c ∈ 1…6 did); the silhouette, which has no
constant to tune, stayed closest to the true-count decoding across all five
(docs/real_footage.md). No minimum scene is imposed unless the caller sets one: floors
derived from the film's shot lengths helped re-edits whose scenes have two shots or more and
cost the intercut original film its one-shot scenes (measured in
benchmarks/scene_count_candidates.py).

Embeddings are centred on the film's mean shot (then made unit again) before grouping: what
all shots of a film share says nothing about where its scenes change, and removing it raised
the true-count F1 on four of the five real constructions. Numpy only.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from scenesem_otio.core.progress import progress_bar
from scenesem_otio.core.vectors import normalise

AUTO = "auto"  # `--scenes auto`
CRITERION = "sequential silhouette of the optimal grouping of each N"
# Scenes average at least this many shots for N to be considered: bounds the O(N·n²) dynamic
# programme on long films (one-take scenes between runs of 2–5 shots average 2.3 shots).
MIN_SHOTS_PER_SCENE = 1.5
# ... and the search stops past twice the best N so far (+ 10): on the real constructions the
# curve falls away after its peak; on a 1000-shot film this halves the programme.
STOP_AFTER_PEAK, STOP_SLACK = 2, 10
PROGRESS_MIN_SHOTS = 500  # below, the count takes under a second: no bar


@dataclass
class SceneCount:
    """The number of scenes chosen from the film itself, and how clear the choice was."""

    n: int
    criterion: str
    curve: dict[int, float] = field(default_factory=dict)  # N -> criterion (higher: better)
    margin: float = 0.0  # criterion at N minus the best criterion at any other N
    starts: list[int] = field(default_factory=list)  # first shot of each scene at N
    min_scene_s: float = 0.0  # the shortest scene the groupings allowed

    def as_meta(self) -> dict[str, object]:
        """For the timeline's metadata["scenesem"]["scene_count"] (JSON-safe)."""
        return {"chosen": self.n, "criterion": self.criterion,
                "peak": round(self.curve.get(self.n, 0.0), 4), "margin": round(self.margin, 4),
                "min_scene_s": round(self.min_scene_s, 3),
                "curve": {str(k): round(v, 4) for k, v in self.curve.items()}}


def film_centred(shot_emb: np.ndarray) -> np.ndarray:
    """Unit shot embeddings minus the film's mean shot, made unit again."""
    v = normalise(np.asarray(shot_emb, dtype=np.float64))
    return normalise(v - v.mean(axis=0))


def segment_gains(v: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """gain[i, j] = ‖Σ v[i:j]‖² / (j − i): the OSG score of a scene of shots i..j−1 (−inf where
    not allowed or empty). Prefix sums make it one Gram matrix."""
    n = len(v)
    prefix = np.concatenate([np.zeros((1, v.shape[1])), np.cumsum(v, axis=0)])
    gram = prefix @ prefix.T
    sq = np.diag(gram)
    length = np.arange(n + 1)[None, :] - np.arange(n + 1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = (sq[None, :] + sq[:, None] - 2 * gram) / length
    gain[length <= 0] = -np.inf
    if allowed is not None:
        gain[~allowed] = -np.inf
    return gain


def iter_groupings(gain: np.ndarray) -> Iterator[list[int] | None]:
    """The optimal sequential grouping for N = 1, 2, … from one dynamic programme, one level
    per N: the first shot of each of N scenes, or None where N scenes cannot fit."""
    n = len(gain) - 1
    idx = np.arange(n + 1)
    to_end = np.ascontiguousarray(gain.T)  # row j: the gain of every scene ending before j
    cand = np.empty_like(to_end)
    best = np.full(n + 1, -np.inf)
    best[0] = 0.0
    backs = []
    for _ in range(n):
        np.add(to_end, best[None, :], out=cand)  # cand[j, i]: best up to i, then scene i..j-1
        back = np.argmax(cand, axis=1)  # along rows: contiguous, several times faster
        best = cand[idx, back]
        backs.append(back)
        if not np.isfinite(best[n]):
            yield None
            continue
        starts, j = [], n
        for b in reversed(backs):
            j = int(b[j])
            starts.append(j)
        yield sorted(starts)


def groupings(gain: np.ndarray, n_max: int) -> list[list[int] | None]:
    """`iter_groupings` for N = 1..n_max."""
    return list(itertools.islice(iter_groupings(gain), n_max))


def similarity_prefix(v: np.ndarray) -> np.ndarray:
    """[n, n + 1]: row i's cumulative cosine similarities, so that any scene's mean is O(1)."""
    return np.concatenate([np.zeros((len(v), 1)), np.cumsum(v @ v.T, axis=1)], axis=1)


def sequential_silhouette(v: np.ndarray, starts: Sequence[int],
                          sim_prefix: np.ndarray | None = None) -> float:
    """Mean over shots of (b − a) / max(a, b): a = mean cosine distance to the other shots of
    its scene, b = the smaller mean distance to the shots of the previous or next scene.
    A shot alone in its scene scores 0 (as in the usual silhouette). Needs ≥ 2 scenes.
    `sim_prefix`: `similarity_prefix(v)`, computed once when many groupings are scored."""
    n = len(v)
    bounds = [*starts, n]
    if len(bounds) < 3:
        raise ValueError("the silhouette needs at least two scenes")
    if sim_prefix is None:
        sim_prefix = similarity_prefix(v)
    self_sim = np.einsum("ij,ij->i", v, v)
    edges = np.asarray(bounds)
    scene = np.repeat(np.arange(len(bounds) - 1), np.diff(edges))  # scene of each shot
    rows = np.arange(n)
    lo, hi = edges[scene], edges[scene + 1]
    size = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        own = 1.0 - (sim_prefix[rows, hi] - sim_prefix[rows, lo] - self_sim) / (size - 1)
        prev_lo = edges[np.maximum(scene - 1, 0)]
        near_prev = 1.0 - (sim_prefix[rows, lo] - sim_prefix[rows, prev_lo]) / (lo - prev_lo)
        next_hi = edges[np.minimum(scene + 2, len(edges) - 1)]
        near_next = 1.0 - (sim_prefix[rows, next_hi] - sim_prefix[rows, hi]) / (next_hi - hi)
    near = np.minimum(np.where(scene > 0, near_prev, np.inf),
                      np.where(scene + 2 < len(edges), near_next, np.inf))
    top = np.maximum(np.maximum(own, near), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.where(size > 1, (near - own) / top, 0.0)  # a shot alone in its scene: 0
    return float(values.sum() / n)


def min_length_mask(shot_starts_s: Sequence[float], duration_s: float, min_scene_s: float
                    ) -> np.ndarray:
    """allowed[i, j]: a scene of shots i..j−1 lasts at least `min_scene_s` seconds."""
    edges = np.append(np.asarray(shot_starts_s, dtype=np.float64), float(duration_s))
    return (edges[None, :] - edges[:, None]) >= min_scene_s - 1e-9


def choose_scene_count(shot_emb: np.ndarray, shot_starts_s: Sequence[float] | None = None,
                       duration_s: float | None = None, min_scene_s: float | None = None,
                       progress: bool = False) -> SceneCount:
    """N where the sequential silhouette of the optimal groupings peaks (ties: the smaller N),
    searched up to n / MIN_SHOTS_PER_SCENE and no further than STOP_AFTER_PEAK × the best N
    so far + STOP_SLACK.

    One scene when no grouping into two or more scores above 0 (no partition puts shots
    nearer their own scene than their neighbour's) or the film has fewer than 3 shots.
    `min_scene_s` (with shot starts and duration) keeps every scene at least that long.
    `progress`: a bar over the counts tried, for films of PROGRESS_MIN_SHOTS shots or more
    (the search grows as shots³: 36 s for 3000 shots on 2 cores).
    """
    v = film_centred(shot_emb)
    n = len(v)
    floor = float(min_scene_s or 0.0)
    if n < 3:
        return SceneCount(n=1, criterion=CRITERION, starts=[0], min_scene_s=floor)
    allowed = None
    if floor and shot_starts_s is not None and duration_s is not None:
        allowed = min_length_mask(shot_starts_s, duration_s, floor)
    n_max = max(2, min(n - 1, int(np.ceil(n / MIN_SHOTS_PER_SCENE))))
    sim_prefix = similarity_prefix(v)
    curve: dict[int, float] = {}
    best, chosen = 1, [0]
    with progress_bar("choosing the number of scenes", n_max, unit="N",
                      enabled=progress and n >= PROGRESS_MIN_SHOTS) as advance:
        for k, starts in enumerate(iter_groupings(segment_gains(v, allowed)), start=1):
            if k > n_max or k > STOP_AFTER_PEAK * best + STOP_SLACK:
                break
            advance(1)
            if starts is None or k == 1:
                continue
            curve[k] = sequential_silhouette(v, starts, sim_prefix)
            if best == 1 or curve[k] > curve[best]:
                best, chosen = k, starts
        advance(n_max - min(k - 1, n_max))  # the search stopped early: nothing left to try
    if not curve or curve[best] <= 0.0:
        return SceneCount(n=1, criterion=CRITERION, curve=curve, starts=[0], min_scene_s=floor)
    others = [x for k, x in curve.items() if k != best]
    margin = curve[best] - max(others) if others else curve[best]
    return SceneCount(n=best, criterion=CRITERION, curve=curve, margin=float(margin),
                      starts=chosen, min_scene_s=floor)
