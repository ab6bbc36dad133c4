"""Scene evaluation (SPEC §6): boundary P/R/F1 with tolerance, AP, mIoU, coverage/overflow.

Numpy only, in seconds, so predictions and truth at different rates (or a CSV of starts)
compare fairly. Reading timelines around these metrics is `compare.py`'s job.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

# ---------------------------------------------------------------- metrics


def matched_pairs(pred: Sequence[float], truth: Sequence[float], tolerance: float
                  ) -> list[tuple[int, int]]:
    """Greedy one-to-one matching, closest pairs first: (pred index, truth index) pairs."""
    pairs = sorted(
        (abs(p - t), i, j) for i, p in enumerate(pred) for j, t in enumerate(truth)
        if abs(p - t) <= tolerance + 1e-9
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    matched = []
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            matched.append((i, j))
    return matched


def match_boundaries(pred: Sequence[float], truth: Sequence[float], tolerance: float) -> int:
    """Greedy one-to-one matching, closest pairs first; returns the number of matches."""
    return len(matched_pairs(pred, truth, tolerance))


def boundary_prf(pred: Sequence[float], truth: Sequence[float], tolerance: float = 0.5
                 ) -> dict[str, Any]:
    """Precision, recall, F1 (floats) of predicted scene boundaries (film start excluded),
    with the counts (ints) they come from."""
    return prf(match_boundaries(pred, truth, tolerance), len(pred), len(truth))


def prf_arrays(hits: Any, n_pred: Any, n_truth: Any
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1, elementwise over counts: the one place their empty-input rule
    lives (`calibrate` sweeps every θ at once through it).

    Nothing predicted scores precision 1 only when there was nothing to find (and recall
    likewise), so an empty prediction on an empty truth is perfect and on a full one is 0.
    """
    hits, n_pred, n_truth = np.broadcast_arrays(np.asarray(hits, np.float64),
                                                np.asarray(n_pred, np.float64),
                                                np.asarray(n_truth, np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n_pred > 0, hits / np.maximum(n_pred, 1), np.where(n_truth == 0, 1.0, 0.0))
        r = np.where(n_truth > 0, hits / np.maximum(n_truth, 1), np.where(n_pred == 0, 1.0, 0.0))
        f = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
    return p, r, f


def prf(hits: int, n_pred: int, n_truth: int) -> dict[str, Any]:
    """Precision, recall and F1 from counts (`prf_arrays` on one set of counts)."""
    p, r, f = (float(x) for x in prf_arrays(hits, n_pred, n_truth))
    return {"precision": p, "recall": r, "f1": f, "hits": hits,
            "n_pred": n_pred, "n_truth": n_truth}


def average_precision(times: Sequence[float], scores: Sequence[float], truth: Sequence[float],
                      tolerance: float = 0.5) -> float | None:
    """AP of scored candidate boundaries: ranked by score, each matched to the nearest unmatched
    true boundary within tolerance; AP = Σ_k P@k · hit_k / |truth|."""
    if not truth:
        return None
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    used: set[int] = set()
    hits = 0
    total = 0.0
    for rank, k in enumerate(order, start=1):
        t = times[k]
        best = None
        for j, tt in enumerate(truth):
            if j not in used and abs(t - tt) <= tolerance + 1e-9 and (
                    best is None or abs(t - tt) < abs(t - truth[best])):
                best = j
        if best is not None:
            used.add(best)
            hits += 1
            total += hits / rank
    return total / len(truth)


def intervals(starts: Sequence[float], end: float) -> list[tuple[float, float]]:
    """Scene intervals from sorted starts (first 0) and the film end."""
    bounds = [*starts, end]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def _best_iou(side: list[tuple[float, float]], other: list[tuple[float, float]]) -> float:
    ious = []
    for s in side:
        best = 0.0
        for o in other:
            inter = _overlap(s, o)
            if inter:
                best = max(best, inter / (s[1] - s[0] + o[1] - o[0] - inter))
        ious.append(best)
    return float(np.mean(ious)) if ious else 0.0


def miou(pred: list[tuple[float, float]], truth: list[tuple[float, float]]) -> dict[str, float]:
    """Mean best IoU from the truth side, from the predicted side, and their average."""
    from_truth = _best_iou(truth, pred)
    from_pred = _best_iou(pred, truth)
    return {"miou": (from_truth + from_pred) / 2, "miou_truth": from_truth,
            "miou_pred": from_pred}


def coverage_overflow(pred: list[tuple[float, float]], truth: list[tuple[float, float]]
                      ) -> dict[str, float]:
    """Coverage / overflow (Vendrig & Worring; Rasheed & Shah), length-weighted, and their F.

    coverage_t = the largest share of truth scene t inside one predicted scene;
    overflow_t = Σ over predicted scenes touching t of their length outside t, divided by the
    length of t's neighbours (1 = a prediction that swallows both neighbours).
    """
    if not truth:
        return {"coverage": 0.0, "overflow": 0.0, "cov_of_f": 0.0}
    lengths = np.array([t[1] - t[0] for t in truth])
    cov = np.zeros(len(truth))
    over = np.zeros(len(truth))
    for k, t in enumerate(truth):
        cov[k] = max((_overlap(t, p) for p in pred), default=0.0) / lengths[k]
        outside = sum((p[1] - p[0]) - _overlap(t, p) for p in pred if _overlap(t, p) > 0)
        neighbours = (lengths[k - 1] if k > 0 else 0.0) + (
            lengths[k + 1] if k + 1 < len(truth) else 0.0)
        over[k] = min(1.0, outside / neighbours) if neighbours > 0 else 0.0
    c = float((cov * lengths).sum() / lengths.sum())
    o = float((over * lengths).sum() / lengths.sum())
    f = 2 * c * (1 - o) / (c + 1 - o) if c + 1 - o > 0 else 0.0
    return {"coverage": c, "overflow": o, "cov_of_f": f}


@dataclass
class Segmentation:
    """One side of an evaluation, in seconds from the media's first frame."""

    starts: list[float]  # scene starts, the first is 0
    end: float
    candidates: list[tuple[float, float]] = field(default_factory=list)  # (time, score)
    video: str | None = None
    fps: Fraction | None = None
    name: str = ""
    missing_video: str | None = None  # referenced by the timeline but not on disk

    @property
    def boundaries(self) -> list[float]:
        return [s for s in self.starts if s > 0]


def score(pred: Segmentation, truth: Segmentation, tolerance: float = 0.5) -> dict[str, Any]:
    """Every SPEC §6 metric for one video. The film end is the later of both sides' ends."""
    end = max(pred.end, truth.end)
    p_iv, t_iv = intervals(pred.starts, end), intervals(truth.starts, end)
    out: dict[str, Any] = boundary_prf(pred.boundaries, truth.boundaries, tolerance)
    out["ap"] = (average_precision([c[0] for c in pred.candidates],
                                   [c[1] for c in pred.candidates], truth.boundaries, tolerance)
                 if pred.candidates else None)
    out.update(miou(p_iv, t_iv))
    out.update(coverage_overflow(p_iv, t_iv))
    out["n_pred_scenes"], out["n_truth_scenes"] = len(p_iv), len(t_iv)
    return out


def overall(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Boundary P/R/F1 pooled over all boundaries; the other metrics averaged over videos."""
    out = prf(*(sum(r[k] for r in rows) for k in ("hits", "n_pred", "n_truth")))
    for key in ("ap", "miou", "miou_truth", "miou_pred", "coverage", "overflow", "cov_of_f"):
        values = [row[key] for row in rows if row.get(key) is not None]
        out[key] = float(np.mean(values)) if values else None
    return out
