"""Scene evaluation (SPEC §6): boundary P/R/F1 with tolerance, AP, mIoU, coverage/overflow.

The metric functions are numpy-only and work in seconds, so predictions and truth at different
rates (or a CSV of starts) compare fairly. `evaluate_cli` reads timelines/manifests around them.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from scenesem_otio.errors import DataError, TimelineError

# ---------------------------------------------------------------- metrics


def match_boundaries(pred: Sequence[float], truth: Sequence[float], tolerance: float) -> int:
    """Greedy one-to-one matching, closest pairs first; returns the number of matches."""
    pairs = sorted(
        (abs(p - t), i, j) for i, p in enumerate(pred) for j, t in enumerate(truth)
        if abs(p - t) <= tolerance + 1e-9
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return len(used_p)


def boundary_prf(pred: Sequence[float], truth: Sequence[float], tolerance: float = 0.5
                 ) -> dict[str, float]:
    """Precision, recall, F1 of predicted scene boundaries (film start excluded)."""
    hits = match_boundaries(pred, truth, tolerance)
    precision = hits / len(pred) if pred else (1.0 if not truth else 0.0)
    recall = hits / len(truth) if truth else (1.0 if not pred else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "hits": hits,
            "n_pred": len(pred), "n_truth": len(truth)}


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
    hits = sum(r["hits"] for r in rows)
    n_pred = sum(r["n_pred"] for r in rows)
    n_truth = sum(r["n_truth"] for r in rows)
    p = hits / n_pred if n_pred else (1.0 if not n_truth else 0.0)
    r = hits / n_truth if n_truth else (1.0 if not n_pred else 0.0)
    out: dict[str, Any] = {"precision": p, "recall": r,
                           "f1": 2 * p * r / (p + r) if p + r else 0.0,
                           "hits": hits, "n_pred": n_pred, "n_truth": n_truth}
    for key in ("ap", "miou", "miou_truth", "miou_pred", "coverage", "overflow", "cov_of_f"):
        values = [row[key] for row in rows if row.get(key) is not None]
        out[key] = float(np.mean(values)) if values else None
    return out


# ---------------------------------------------------------------- reading both sides


def load_segmentation(path: str | os.PathLike, rate: Fraction | None = None) -> Segmentation:
    """Any timeline scenesem reads (or a CSV of starts) -> scene starts in seconds."""
    from scenesem_otio.adapters.formats import read_timeline
    from scenesem_otio.adapters.timeline import (
        NS,
        scenes_from_timeline,
        timeline_media,
        timeline_rate,
    )

    path = Path(path)
    timeline = read_timeline(path, rate=rate)
    own = timeline_rate(timeline)
    fps = Fraction(own).limit_denominator(1001) if own else rate
    video, _ = timeline_media(timeline)
    scenes = scenes_from_timeline(timeline, source=str(path))
    if not scenes:
        raise TimelineError(f"{path}: no scenes in it")
    fr = float(fps) if fps else 25.0
    starts = sorted({s.start / fr for s in scenes})
    if starts[0] > 0:
        starts = [0.0, *starts]
    else:
        starts[0] = 0.0
    meta = timeline.metadata.get(NS, {})
    if not hasattr(meta, "get"):
        meta = {}
    end = max(s.end for s in scenes) / fr
    if meta.get("open_end"):
        end = starts[-1]
    candidates = []
    try:
        if meta.get("n_frames"):
            end = max(end, int(meta["n_frames"]) / fr)
        if meta.get("boundary_scores") is not None and meta.get("shot_cuts"):
            cuts = [int(c) for c in meta["shot_cuts"]]
            scores = [float(x) for x in meta["boundary_scores"]]
            candidates = [(c / fr, s) for c, s in zip(cuts, scores, strict=False)
                          if np.isfinite(s)]
    except (TypeError, ValueError, OverflowError):
        raise TimelineError(f"{path}: malformed scenesem metadata (n_frames, shot_cuts or "
                            "boundary_scores)") from None
    missing = None
    if video and not Path(video).exists():
        video, missing = None, video
    return Segmentation(starts=starts, end=end, candidates=candidates, video=video, fps=fps,
                        name=path.name, missing_video=missing)


def load_pair(pred: Path, truth: Path, fps: Fraction | None = None,
              video: str | None = None) -> tuple[Segmentation, Segmentation]:
    """Both sides; an EDL/CSV side takes its rate from the other side or from the media.

    A side that carries its own rate is read once: its segmentation does not depend on `rate`.
    """
    rate = fps
    loaded: dict[Path, Segmentation] = {}
    if rate is None:
        for side in (truth, pred):
            if side.exists() and side.suffix.lower() not in (".edl", ".csv"):
                seg = load_segmentation(side)
                if seg.fps:
                    loaded[side], rate = seg, seg.fps
                    break
    if rate is None and video:
        from scenesem_otio.media.probe import probe

        rate = probe(video).fps
    if rate is None and any(p.suffix.lower() == ".edl" for p in (pred, truth)):
        raise TimelineError(f"{pred if pred.suffix.lower() == '.edl' else truth}: an EDL "
                            "carries no frame rate; pass --fps or compare with a timeline "
                            "that has one")
    return (loaded.get(pred) or load_segmentation(pred, rate),
            loaded.get(truth) or load_segmentation(truth, rate))


def baseline_segmentation(video: str, progress: bool = False) -> Segmentation:
    """PySceneDetect's shots taken as scenes: the comparison every scene method must beat."""
    from scenesem_otio.media.probe import probe
    from scenesem_otio.media.shots import detect_shots

    info = probe(video)
    fr = float(info.fps)
    cuts = detect_shots(info.path, progress=progress)
    return Segmentation(starts=[0.0, *(c / fr for c in cuts)], end=info.n_frames / fr,
                        video=info.path, fps=info.fps, name="pyscenedetect")


# ---------------------------------------------------------------- CLI


COLUMNS = (("precision", "P"), ("recall", "R"), ("f1", "F1"), ("ap", "AP"), ("miou", "mIoU"),
           ("coverage", "Cov"), ("overflow", "Ovf"), ("cov_of_f", "F(C,O)"))


def format_table(rows: list[tuple[str, str, dict[str, Any]]], tolerance: float) -> str:
    """Rows of (video, method, metrics) -> a fixed-width table."""
    width = max([5, *(len(v) for v, _, _ in rows)])
    mwidth = max([6, *(len(m) for _, m, _ in rows)])
    head = f"{'video':<{width}}  {'method':<{mwidth}}" + "".join(
        f"{label:>8}" for _, label in COLUMNS) + f"{'scenes':>8}{'truth':>7}"
    lines = [f"boundaries matched within ±{tolerance:g} s", head, "-" * len(head)]
    for video, method, m in rows:
        cells = "".join(
            f"{m[key]:>8.3f}" if m.get(key) is not None else f"{'-':>8}" for key, _ in COLUMNS)
        n_pred = m.get("n_pred_scenes", m["n_pred"] + 1 if "n_pred" in m else "-")
        n_truth = m.get("n_truth_scenes", m["n_truth"] + 1 if "n_truth" in m else "-")
        lines.append(f"{video:<{width}}  {method:<{mwidth}}{cells}{n_pred!s:>8}{n_truth!s:>7}")
    return "\n".join(lines)


def evaluate_cli(pred: Path, truth: Path | None, *, tolerance: float = 0.5,
                 as_json: bool = False, with_baseline: bool = False,
                 fps: str | None = None) -> str:
    """PRED vs TRUTH (or a manifest of {pred, truth[, video]}) -> table or JSON."""
    from scenesem_otio.manifest import is_manifest, load_manifest

    rate = _parse_fps(fps) if fps else None
    pred = Path(pred)
    if truth is None:
        if not is_manifest(pred):
            if not pred.exists():
                raise TimelineError(f"{pred}: no such file")
            raise DataError(f"{pred}: pass --truth TRUTH, or give a manifest of "
                            "{pred, truth} entries")
        pairs = [(Path(e["pred"]), Path(e["truth"]), e.get("video"))
                 for e in load_manifest(pred, required=("pred", "truth"))]
    else:
        pairs = [(pred, Path(truth), None)]

    rows: list[tuple[str, str, dict[str, Any]]] = []
    per_method: dict[str, list[dict[str, Any]]] = {}
    for p, t, video in pairs:
        p_seg, t_seg = load_pair(p, t, rate, video)
        name = Path(video or t_seg.video or p_seg.video or p.stem).name
        metrics = score(p_seg, t_seg, tolerance)
        rows.append((name, p.name, metrics))
        per_method.setdefault("pred", []).append(metrics)
        if with_baseline:
            media = video or p_seg.video or t_seg.video
            if not media:
                gone = p_seg.missing_video or t_seg.missing_video
                if gone:
                    raise DataError(f"{gone}: not found; --baseline needs the video that {p} "
                                    "references (or give `video:` in a manifest)")
                raise DataError(f"{p}: --baseline needs the video, and neither timeline "
                                "references one (add `video:` in a manifest)")
            base = score(baseline_segmentation(media), t_seg, tolerance)
            rows.append((name, "pyscenedetect", base))
            per_method.setdefault("baseline", []).append(base)
    if len(pairs) > 1:
        rows.append(("OVERALL", "pred", overall(per_method["pred"])))
        if with_baseline:
            rows.append(("OVERALL", "pyscenedetect", overall(per_method["baseline"])))
    if as_json:
        return json.dumps({"tolerance_s": tolerance, "results": [
            {"video": v, "method": m, **metrics} for v, m, metrics in rows]}, indent=2)
    return format_table(rows, tolerance)


def _parse_fps(text: str) -> Fraction:
    from scenesem_otio.scenes import parse_rate

    return parse_rate(text, "--fps").limit_denominator(1001)
