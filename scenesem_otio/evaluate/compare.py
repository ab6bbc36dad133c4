"""Evaluation runs: read predicted and true scenes from any timeline, score them (SPEC §6).

`evaluate.py` holds the metrics; this module finds both sides (timelines, CSVs, manifests,
PySceneDetect's shots as a baseline) and returns rows of metrics for the CLI to print.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from scenesem_otio.core.errors import DataError, TimelineError
from scenesem_otio.evaluate.metrics import Segmentation, overall, score

log = logging.getLogger(__name__)


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
    cuts = detect_shots(info.path, progress=progress, field_order=info.field_order)
    return Segmentation(starts=[0.0, *(c / fr for c in cuts)], end=info.n_frames / fr,
                        video=info.path, fps=info.fps, name="pyscenedetect")


@dataclass
class EvalRow:
    """One line of an evaluation: a video (or OVERALL), a method and its metrics."""

    video: str
    method: str
    metrics: dict[str, Any]


def evaluation_pairs(pred: Path, truth: Path | None) -> list[tuple[Path, Path, str | None]]:
    """(pred, truth, video) for one comparison, or for each entry of a manifest."""
    from scenesem_otio.core.manifest import is_manifest, load_manifest

    pred = Path(pred)
    if truth is not None:
        return [(pred, Path(truth), None)]
    if not is_manifest(pred):
        if not pred.exists():
            raise TimelineError(f"{pred}: no such file")
        raise DataError(f"{pred}: pass --truth TRUTH, or give a manifest of "
                        "{pred, truth} entries")
    return [(Path(e["pred"]), Path(e["truth"]), e.get("video"))
            for e in load_manifest(pred, required=("pred", "truth"))]


def evaluate_pairs(pairs: list[tuple[Path, Path, str | None]], *, tolerance: float = 0.5,
                   fps: Fraction | None = None, with_baseline: bool = False) -> list[EvalRow]:
    """Score each pair (and PySceneDetect on its video); OVERALL rows when there are several."""
    rows: list[EvalRow] = []
    per_method: dict[str, list[dict[str, Any]]] = {}
    for p, t, video in pairs:
        p_seg, t_seg = load_pair(p, t, fps, video)
        pred_film, truth_film = (Path(seg.video or seg.missing_video or "").name
                                 for seg in (p_seg, t_seg))
        if pred_film and truth_film and pred_film != truth_film:  # a proxy may be renamed:
            log.warning("%s cuts %s but %s cuts %s; scored against each other anyway",  # warn
                        p.name, pred_film, t.name, truth_film)
        name = Path(video or t_seg.video or p_seg.video or p.stem).name
        metrics = score(p_seg, t_seg, tolerance)
        rows.append(EvalRow(name, p.name, metrics))
        per_method.setdefault("pred", []).append(metrics)
        if with_baseline:
            base = score(baseline_segmentation(_baseline_media(p, video, p_seg, t_seg)), t_seg,
                         tolerance)
            rows.append(EvalRow(name, "pyscenedetect", base))
            per_method.setdefault("pyscenedetect", []).append(base)
    if len(pairs) > 1:
        rows.extend(EvalRow("OVERALL", method, overall(found))
                    for method, found in per_method.items())
    return rows


def _baseline_media(pred: Path, video: str | None, p_seg: Segmentation,
                    t_seg: Segmentation) -> str:
    media = video or p_seg.video or t_seg.video
    if media:
        return media
    gone = p_seg.missing_video or t_seg.missing_video
    if gone:
        raise DataError(f"{gone}: not found; --baseline needs the video that {pred} "
                        "references (or give `video:` in a manifest)")
    raise DataError(f"{pred}: --baseline needs the video, and neither timeline "
                    "references one (add `video:` in a manifest)")
