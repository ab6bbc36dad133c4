"""Timeline stage: scenes <-> OTIO timelines, frame-exact at the media's own rate.

The only place RationalTime is made from our frame indices. OTIO stores rates as floats, so
every value is an integer frame count at `float(fps)` and is read back with rounding: frame
numbers survive exactly at 24000/1001 however long the film.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from scenesem_otio.adapters.frames import frames, media_start
from scenesem_otio.core.errors import TimelineError
from scenesem_otio.core.scenes import Scene, Shot, VideoInfo

NS = "scenesem"  # metadata namespace


def marker_color(distance: float | None) -> str:
    """RED for a big semantic jump, YELLOW for a moderate one, else GREEN (SPEC §5)."""
    if distance is None:
        return otio.schema.MarkerColor.GREEN
    if distance >= 0.5:
        return otio.schema.MarkerColor.RED
    if distance >= 0.25:
        return otio.schema.MarkerColor.YELLOW
    return otio.schema.MarkerColor.GREEN


def marker_name(scene: Scene) -> str:
    """Short enough for every NLE's marker list: `S012 Δ0.71`, or the scene's title."""
    if scene.title:
        return scene.title
    label = f"S{scene.index + 1:03d}"
    return label if scene.distance_prev is None else f"{label} Δ{scene.distance_prev:.2f}"


def marker_comment(scene: Scene) -> str:
    if scene.description:
        return scene.description
    parts = []
    if scene.distance_prev is not None:
        parts.append(f"distance to previous scene {scene.distance_prev:.3f}")
    if scene.nearest:
        near = ", ".join(f"S{j + 1:03d} ({d:.2f})" for j, d in scene.nearest)
        parts.append(f"nearest earlier scenes: {near}")
    if scene.boundary_score is not None:
        parts.append(f"boundary score {scene.boundary_score:.3f}")
    parts.append(f"{scene.n_shots} shot{'s' if scene.n_shots != 1 else ''}")
    return "; ".join(parts)


def _clean(value: Any) -> Any:
    """Metadata OTIO can serialise: plain floats, ints, strings, lists and dicts."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def scene_metadata(scene: Scene, embeddings: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "index": scene.index,
        "start_frame": scene.start,
        "end_frame": scene.end,
        "first_shot": scene.first_shot,
        "n_shots": scene.n_shots,
        "boundary_score": scene.boundary_score,
        "distance_prev": scene.distance_prev,
        "nearest": [{"scene": j, "distance": d} for j, d in scene.nearest],
    }
    if scene.title:
        meta["title"] = scene.title
    if scene.description:
        meta["description"] = scene.description
    meta.update(scene.metadata)
    if embeddings and scene.embedding is not None:
        meta["embedding"] = list(scene.embedding)
    return _clean(meta)


class _ClipMaker:
    """Clips and markers referencing one media file, frame-exact at its rate and start TC."""

    def __init__(self, info: VideoInfo) -> None:
        self.rate = float(info.fps)
        self.base = info.start_frame
        self.available = TimeRange(self.rt(self.base), self.rt(info.n_frames))
        self.url = Path(info.path).absolute().as_uri()

    def rt(self, n_frames: int) -> RationalTime:
        return RationalTime(n_frames, self.rate)

    def clip(self, name: str, start: int, end: int, meta: dict) -> otio.schema.Clip:
        ref = otio.schema.ExternalReference(target_url=self.url,
                                            available_range=self.available)
        item = otio.schema.Clip(name=name, media_reference=ref, source_range=TimeRange(
            self.rt(self.base + start), self.rt(end - start)))
        item.metadata[NS] = meta
        return item

    def marker(self, scene: Scene) -> otio.schema.Marker:
        m = otio.schema.Marker(
            name=marker_name(scene), color=marker_color(scene.distance_prev),
            marked_range=TimeRange(self.rt(self.base + scene.start), self.rt(0)),
            comment=marker_comment(scene))
        m.metadata[NS] = scene_metadata(scene, embeddings=False)
        return m


def _shot_clips(make: _ClipMaker, scenes: list[Scene], shots: list[Shot],
                embeddings: bool, shot_embeddings: Any = None) -> list[otio.schema.Clip]:
    """One clip per shot; scene membership in metadata, a marker where a scene starts, and
    with `embeddings` the shot's own embedding (to find similar shots)."""
    starts = {scene.start: scene for scene in scenes}
    owner = 0
    out = []
    for k, shot in enumerate(shots):
        while owner + 1 < len(scenes) and scenes[owner + 1].start <= shot.start:
            owner += 1
        meta: dict[str, Any] = {"shot": k, "scene": scenes[owner].index if scenes else 0,
                "start_frame": shot.start, "end_frame": shot.end}
        if shot.start in starts:
            meta["scene_start"] = scene_metadata(starts[shot.start], embeddings)
        if embeddings and shot_embeddings is not None:
            meta["embedding"] = [float(x) for x in shot_embeddings[k]]
        item = make.clip(f"Shot {k + 1:04d}", shot.start, shot.end, _clean(meta))
        if shot.start in starts:
            item.markers.append(make.marker(starts[shot.start]))
        out.append(item)
    return out


def build_timeline(
    info: VideoInfo,
    scenes: list[Scene],
    *,
    shots: list[Shot] | None = None,
    level: str = "scenes",
    name: str | None = None,
    metadata: dict | None = None,
    embeddings: bool = False,
    shot_embeddings: Any = None,
) -> otio.schema.Timeline:
    """One video track `Scenes`: a clip per scene (or per shot) and a marker per scene start."""
    make = _ClipMaker(info)
    timeline = otio.schema.Timeline(name=name or Path(info.path).stem)
    timeline.global_start_time = make.rt(info.start_frame)
    timeline.metadata[NS] = _clean(
        {**(metadata or {}), "fps": info.fps, "n_frames": info.n_frames,
         "start_timecode": info.start_timecode, "drop_frame": info.drop_frame,
         "width": info.width, "height": info.height, "level": level,
         "n_scenes": len(scenes)})
    track = otio.schema.Track(name="Scenes", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    if level == "scenes":
        for scene in scenes:
            item = make.clip(f"Scene {scene.index + 1:03d}", scene.start, scene.end,
                             scene_metadata(scene, embeddings))
            item.markers.append(make.marker(scene))
            track.append(item)
    elif level == "shots":
        if shots is None:
            raise ValueError("level='shots' needs the shots")
        for item in _shot_clips(make, scenes, shots, embeddings, shot_embeddings):
            track.append(item)
    else:
        raise ValueError(f"unknown level {level!r}")
    return timeline


# ---------------------------------------------------------------- reading timelines back


def plain_metadata(value: Any) -> Any:
    """OTIO's AnyDictionary/AnyVector -> dict/list that outlive the timeline they came from."""
    if hasattr(value, "items"):
        return {str(k): plain_metadata(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "AnyVector":
        return [plain_metadata(v) for v in value]
    return value


def timeline_media(timeline: otio.schema.Timeline) -> tuple[str | None, Fraction | None]:
    """(local path of the first referenced media, its rate) — how eval/train find the video."""
    for item in timeline.find_clips():
        ref = item.media_reference
        rate = item.source_range.duration.rate if item.source_range else None
        url = getattr(ref, "target_url", None)
        if url:
            parsed = urlparse(url)
            path = unquote(parsed.path) if parsed.scheme in ("file", "") else None
            return path, (Fraction(rate).limit_denominator(1001) if rate else None)
    return None, None


def timeline_rate(timeline: otio.schema.Timeline) -> float | None:
    for item in timeline.find_clips():
        if item.source_range is not None:
            return item.source_range.duration.rate
    return None


def _media_start(item: otio.schema.Clip, info: VideoInfo | None, fps: float) -> int:
    return media_start(item, fps, info.start_frame if info is not None else 0)


def _video_clips(timeline: otio.schema.Timeline) -> list[otio.schema.Clip]:
    tracks = list(timeline.video_tracks()) or list(timeline.tracks)
    named = [t for t in tracks if t.name == "Scenes"]
    for track in named + tracks:
        clips = [c for c in track.find_clips(shallow_search=True) if c.source_range is not None]
        if clips:
            return clips
    return []


def _rate_for(timeline: otio.schema.Timeline, info: VideoInfo | None,
              source: str) -> float:
    found = timeline_rate(timeline)
    if info is not None:
        if found is not None and abs(found - float(info.fps)) > 0.01:
            raise TimelineError(
                f"{source}: timeline rate {found:.3f} fps differs from the media's "
                f"{float(info.fps):.3f} fps")
        return float(info.fps)
    if found is None:
        raise TimelineError(f"{source}: timeline has no clips with a time range")
    return found


Span = tuple[int, int, str, str, dict, dict]  # start, end, title, comment, metadata, extra


def _marker_spans(timeline: otio.schema.Timeline, clips: list[otio.schema.Clip],
                  info: VideoInfo | None, fps: float) -> list[Span]:
    """Ranged markers on clips (relative to their media) and on the tracks (absolute)."""
    def span(m: otio.schema.Marker, offset: int) -> Span:
        s = frames(m.marked_range.start_time, fps) - offset
        return (s, s + frames(m.marked_range.duration, fps), m.name, m.comment or "",
                plain_metadata(m.metadata.get(NS, {})), {})

    spans = [span(m, _media_start(item, info, fps)) for item in clips for m in item.markers
             if frames(m.marked_range.duration, fps) > 1]
    tracks = list(timeline.video_tracks()) or list(timeline.tracks)
    stack_markers = list(timeline.tracks.markers) + [m for t in tracks for m in t.markers]
    spans += [span(m, 0) for m in stack_markers if frames(m.marked_range.duration, fps) > 1]
    return spans


def _clip_spans(clips: list[otio.schema.Clip], info: VideoInfo | None, fps: float
                ) -> list[Span]:
    """Each clip a scene; a shot-level timeline's clips grouped by their scene index."""
    grouped: dict[Any, list[tuple[int, int, otio.schema.Clip]]] = {}
    for k, item in enumerate(clips):
        s = frames(item.source_range.start_time, fps) - _media_start(item, info, fps)
        e = s + frames(item.source_range.duration, fps)
        meta = item.metadata.get(NS, None)
        shot_level = meta is not None and hasattr(meta, "get") and "shot" in meta
        key = ("scene", meta.get("scene", k)) if shot_level else ("clip", k)
        grouped.setdefault(key, []).append((s, e, item))
    spans: list[Span] = []
    for members in grouped.values():
        meta = plain_metadata(members[0][2].metadata.get(NS, {}))
        spans.append((min(m[0] for m in members), max(m[1] for m in members), "", "",
                      dict(meta.get("scene_start", meta)), {"n_shots": len(members)}))
    return spans


def scenes_from_timeline(timeline: otio.schema.Timeline, info: VideoInfo | None = None,
                         source: str | None = None) -> list[Scene]:
    """Scenes in media frames: ranged markers first, then clips (grouped by scene metadata).

    Markers with a duration are scene ranges (name = title, comment = description,
    metadata["scenesem"] = props/context...). Otherwise each clip of the `Scenes` track (or of
    the first video track) is a scene; shot-level timelines are grouped by their scene index.
    """
    source = source or timeline.name or "timeline"
    fps = _rate_for(timeline, info, source)
    clips = _video_clips(timeline)
    n_max = info.n_frames if info is not None else None
    spans = _marker_spans(timeline, clips, info, fps) or _clip_spans(clips, info, fps)
    spans.sort(key=lambda x: (x[0], x[1]))
    scenes: list[Scene] = []
    for s, e, title, comment, meta, extra in spans:
        if n_max is not None:
            s, e = max(0, min(s, n_max)), max(0, min(e, n_max))
        if e <= s:
            continue
        desc = comment or str(meta.get("description", "") or "")
        extra_meta = {k: v for k, v in meta.items()
                      if k not in ("index", "start_frame", "end_frame", "embedding")}
        scenes.append(Scene(
            index=len(scenes), start=s, end=e, title=title, description=desc,
            boundary_score=_float(meta.get("boundary_score")),
            distance_prev=_float(meta.get("distance_prev")),
            n_shots=int(meta.get("n_shots", extra.get("n_shots", 1)) or 1),
            embedding=meta.get("embedding"), metadata=extra_meta))
    return scenes


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def cuts_from_timeline(timeline: otio.schema.Timeline, info: VideoInfo | None = None,
                       source: str | None = None) -> list[int]:
    """Media frames where a clip starts (shots from an existing edit), sorted and unique."""
    source = source or timeline.name or "timeline"
    fps = _rate_for(timeline, info, source)
    cuts = set()
    for item in _video_clips(timeline):
        cuts.add(frames(item.source_range.start_time, fps) - _media_start(item, info, fps))
    n_max = info.n_frames if info is not None else None
    return sorted(c for c in cuts if c > 0 and (n_max is None or c < n_max))
