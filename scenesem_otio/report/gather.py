"""Report, gathering: a scenesem timeline -> `Film`, the plain facts the page shows.

Reads what `scenesem cut` wrote (`metadata["scenesem"]` of an .otio/.otioz: shot cuts,
boundary scores, θ, distances, run facts); frames count from the media's start, and `Film.tc`
shows them as timecode from the timeline's start.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenesem_otio.adapters.formats import FORMATS
from scenesem_otio.adapters.frames import frames, media_start, record_start
from scenesem_otio.core.errors import TimelineError
from scenesem_otio.core.scenes import Scene, Shot

if TYPE_CHECKING:
    import numpy as np
    import opentimelineio as otio

# Formats we read that keep OTIO metadata, and those that cannot carry it.
WITH_METADATA = tuple(s for s, f in FORMATS.items() if f.keeps_metadata)
WITHOUT_METADATA = tuple(s for s, f in FORMATS.items() if not f.keeps_metadata)


@dataclass
class Film:
    """Everything the page shows, gathered from one timeline (frames from the media's start)."""

    name: str
    source: str
    meta: dict
    rate: Fraction
    drop: bool
    base: int  # start timecode as frames
    n_frames: int
    scenes: list[Scene]
    shots: list[Shot]
    colours: list[str]  # marker colour name per scene
    nearest: list[list[tuple[int, float]]]  # per scene: (earlier scene, D)
    cuts: list[int] = field(default_factory=list)  # scored shot cuts (frames)
    scores: list[float] = field(default_factory=list)
    threshold: float | None = None
    dist: np.ndarray | None = None  # NaN where unknown
    dist_full: bool = False
    media: str | None = None

    def tc(self, frame: int) -> str:
        from scenesem_otio.adapters.nle import timecode

        return timecode(self.base + frame, self.rate, self.drop)

    def seconds(self, frames: int) -> float:
        return float(frames / self.rate)


def read_report_timeline(path: str | os.PathLike) -> otio.schema.Timeline:
    """An .otio/.otioz written by scenesem; TimelineError for formats without our metadata."""
    from scenesem_otio.adapters.formats import read_timeline
    from scenesem_otio.adapters.timeline import NS

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in WITHOUT_METADATA:
        raise TimelineError(
            f"{path}: a {suffix} file cannot carry scenesem's metadata (shot cuts, boundary "
            f"scores, distances); give the .otio or .otioz written by `scenesem cut`")
    timeline = read_timeline(path)
    if not _has_metadata(timeline, NS):
        raise TimelineError(f"{path}: no metadata[{NS!r}] in this timeline; give an .otio or "
                            f".otioz written by `scenesem cut` or `scenesem baseline`")
    return timeline


def _has_metadata(timeline: otio.schema.Timeline, ns: str) -> bool:
    meta = timeline.metadata.get(ns)
    return hasattr(meta, "items") and any(k in meta for k in ("tool", "fps", "n_frames"))


def gather(timeline: otio.schema.Timeline, source: str | None = None) -> Film:
    """Scenes, shots, scores, distances and facts of a scenesem timeline."""
    from scenesem_otio.adapters import nle
    from scenesem_otio.adapters.timeline import NS, plain_metadata, timeline_media

    source = source or timeline.name or "timeline"
    if not _has_metadata(timeline, NS):
        raise TimelineError(f"{source}: no metadata[{NS!r}] in this timeline; give an .otio "
                            f"or .otioz written by `scenesem cut` or `scenesem baseline`")
    meta = plain_metadata(timeline.metadata[NS])
    rate, drop = nle.rate_info(timeline)
    base = record_start(timeline, float(rate))
    scenes, n_frames = _scenes(timeline, meta, source)
    shots, cuts, scores = _shots_and_scores(timeline, meta, scenes, n_frames, source)
    colours = _marker_colours(timeline, scenes, float(rate), base)
    dist, full, nearest = _distances(scenes, source)
    threshold = (_numbers([meta["threshold"]], float, source, "threshold")[0]
                 if meta.get("threshold") is not None else None)
    media, _ = timeline_media(timeline)
    return Film(name=timeline.name or Path(source).stem, source=source, meta=meta, rate=rate,
                drop=drop, base=base, n_frames=n_frames, scenes=scenes, shots=shots,
                colours=colours, nearest=nearest, cuts=cuts, scores=scores,
                threshold=threshold,
                dist=dist, dist_full=full, media=media)


def _scenes(timeline: otio.schema.Timeline, meta: Mapping, source: str
            ) -> tuple[list[Scene], int]:
    """The scenes and the film's length; a timeline without scenes has nothing to show."""
    from scenesem_otio.adapters.timeline import scenes_from_timeline

    scenes = scenes_from_timeline(timeline, source=source)
    if not scenes:
        raise TimelineError(f"{source}: no scenes in this timeline")
    n_frames = _numbers([meta.get("n_frames") or scenes[-1].end], int, source, "n_frames")[0]
    return scenes, n_frames


def _shots_and_scores(timeline: otio.schema.Timeline, meta: Mapping, scenes: list[Scene],
                      n_frames: int, source: str
                      ) -> tuple[list[Shot], list[int], list[float]]:
    """Every shot (scored cuts, clip edges and scene starts), and the scored cuts with their
    boundary scores; both lists are dropped when their lengths disagree."""
    from scenesem_otio.adapters.timeline import cuts_from_timeline
    from scenesem_otio.core.scenes import shots_from_cuts

    cuts = _numbers(meta.get("shot_cuts"), int, source, "shot_cuts")
    starts = {*cuts, *cuts_from_timeline(timeline, source=source),
              *(s.start for s in scenes)}
    shots = shots_from_cuts(sorted(starts), n_frames)
    scores = _numbers(meta.get("boundary_scores"), float, source, "boundary_scores")
    if len(scores) != len(cuts):
        scores, cuts = [], []
    return shots, cuts, scores


def _marker_colours(timeline: otio.schema.Timeline, scenes: list[Scene], fr: float,
                    base: int) -> list[str]:
    """Each scene's marker colour as the editor left it, else the one `cut` would choose."""
    from scenesem_otio.adapters.timeline import marker_color

    colour_at: dict[int, str] = {}
    for item in timeline.find_clips():
        start0 = media_start(item, fr, default=base)
        for m in item.markers:
            colour_at.setdefault(frames(m.marked_range.start_time, fr)
                                 - start0, str(m.color))
    return [colour_at.get(s.start) or str(marker_color(s.distance_prev)) for s in scenes]


def _distances(scenes: list[Scene], source: str
               ) -> tuple[np.ndarray | None, bool, list[list[tuple[int, float]]]]:
    """(matrix, full?, nearest earlier per scene): from embeddings when every scene has one,
    else the known pairs only (NaN elsewhere), else no matrix."""
    import numpy as np

    from scenesem_otio.segment.decide import distance_matrix

    dist: np.ndarray | None = None
    full = all(s.embedding for s in scenes) and len(scenes) > 0
    if full:
        dist = distance_matrix(np.asarray([s.embedding for s in scenes], dtype=np.float64))
    nearest = _nearest(scenes, dist, source)
    if dist is None and any(s.distance_prev is not None for s in scenes):
        dist = _known_distances(scenes, nearest)
    return dist, full, nearest


def _nearest(scenes: list[Scene], dist: np.ndarray | None, source: str
             ) -> list[list[tuple[int, float]]]:
    """Per scene, its nearest earlier scenes as `cut` recorded them, else from `dist`."""
    from scenesem_otio.segment.decide import nearest_earlier

    nearest: list[list[tuple[int, float]]] = []
    for i, s in enumerate(scenes):
        entries = [d for d in s.metadata.get("nearest") or []
                   if isinstance(d, Mapping) and "scene" in d and "distance" in d]
        found = [(j, d) for j, d in zip(
            _numbers([d["scene"] for d in entries], int, source, "nearest scene"),
            _numbers([d["distance"] for d in entries], float, source, "nearest distance"))
            if 0 <= j < i]
        if not found and dist is not None:
            found = nearest_earlier(dist, i, 3)
        nearest.append(found)
    return nearest


def _known_distances(scenes: list[Scene], nearest: list[list[tuple[int, float]]]
                     ) -> np.ndarray:
    """Without embeddings: the distances a timeline does carry (to the previous scene and
    the nearest earlier ones), NaN for every other pair."""
    import numpy as np

    n = len(scenes)
    dist = np.full((n, n), np.nan)
    np.fill_diagonal(dist, 0.0)
    for i, s in enumerate(scenes):
        if i and s.distance_prev is not None:
            dist[i, i - 1] = dist[i - 1, i] = s.distance_prev
        for j, d in nearest[i]:
            dist[i, j] = dist[j, i] = d
    return dist


def _numbers(values: Any, kind: type, source: str, what: str) -> list:
    """A metadata list of numbers, or one TimelineError naming the file and the field."""
    if values is None:
        return []
    try:
        out = [kind(v) for v in values]
    except (TypeError, ValueError, OverflowError):
        raise TimelineError(f"{source}: metadata['scenesem'] {what} is not numeric "
                            f"({str(values)[:40]!r})") from None
    if kind is float and not all(math.isfinite(v) for v in out):
        raise TimelineError(f"{source}: metadata['scenesem'] {what} holds a non-finite value")
    return out
