"""Timeline stage: scenes <-> OTIO timelines, frame-exact at the media's own rate.

The only place RationalTime is made from our frame indices. OTIO stores rates as floats, so
every value is an integer frame count at `float(fps)` and is read back with rounding: frame
numbers survive exactly at 24000/1001 however long the film. Media at a variable or
non-standard rate are conformed to a standard rate by timestamps (`conform.py`).

The film's sound: one audio track per audio stream (`Sound`, `Sound 2`...) under the video
track, holding a clip for every picture clip with the same name, range and media: an NLE links
them as one AV clip. Media without sound get no audio track.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from scenesem_otio.adapters.conform import Conform, conform_for, warn_conform
from scenesem_otio.adapters.frames import clip_path, frames, media_start
from scenesem_otio.core.errors import TimelineError
from scenesem_otio.core.scenes import AudioStream, Scene, Shot, VideoInfo, scene_label, scene_title

log = logging.getLogger(__name__)

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
    label = scene_label(scene.index)
    return label if scene.distance_prev is None else f"{label} Δ{scene.distance_prev:.2f}"


def marker_comment(scene: Scene) -> str:
    if scene.description:
        return scene.description
    parts = []
    if scene.distance_prev is not None:
        parts.append(f"distance to previous scene {scene.distance_prev:.3f}")
    if scene.nearest:
        near = ", ".join(f"{scene_label(j)} ({d:.2f})" for j, d in scene.nearest)
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


def _start_frame(info: VideoInfo, conform: Conform) -> int:
    """The start timecode as a frame count at the timeline's rate."""
    if not conform.active or not info.start_timecode:
        return info.start_frame
    from scenesem_otio.media.probe import timecode_to_frames

    return timecode_to_frames(info.start_timecode, conform.rate)[0]


class _ClipMaker:
    """Clips and markers referencing one media file, frame-exact at the timeline's rate (the
    media's own, or the standard one it is conformed to) and its start TC."""

    def __init__(self, info: VideoInfo) -> None:
        self.conform = conform_for(info)
        self.fps = self.conform.rate if self.conform.active else Fraction(info.fps)
        self.rate = float(self.fps)
        self.base = _start_frame(info, self.conform)
        self.n_frames = self.conform.to_timeline(info.n_frames)
        self.available = TimeRange(self.rt(self.base), self.rt(self.n_frames))
        self.url = Path(info.path).absolute().as_uri()

    def rt(self, n_frames: int) -> RationalTime:
        return RationalTime(n_frames, self.rate)

    def clip(self, name: str, start: int, end: int, meta: dict) -> otio.schema.Clip:
        """A clip of media frames [start, end), placed on the timeline's frames."""
        start, end = self.conform.to_timeline(start), self.conform.to_timeline(end)
        ref = otio.schema.ExternalReference(target_url=self.url,
                                            available_range=self.available)
        item = otio.schema.Clip(name=name, media_reference=ref, source_range=TimeRange(
            self.rt(self.base + start), self.rt(end - start)))
        item.metadata[NS] = meta
        return item

    def marker(self, scene: Scene) -> otio.schema.Marker:
        at = self.conform.to_timeline(scene.start)
        m = otio.schema.Marker(
            name=marker_name(scene), color=marker_color(scene.distance_prev),
            marked_range=TimeRange(self.rt(self.base + at), self.rt(0)),
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
    """Video track `Scenes` (a clip per scene or per shot, a marker per scene start) and, when
    the media has sound, an audio track per stream with the same clips (`audio_tracks`)."""
    make = _ClipMaker(info)
    warn_conform(make.conform)
    timeline = otio.schema.Timeline(name=name or Path(info.path).stem)
    timeline.global_start_time = make.rt(make.base)
    timeline.metadata[NS] = _clean(
        {**(metadata or {}), "fps": make.fps, "n_frames": make.n_frames,
         "start_timecode": info.start_timecode, "drop_frame": info.drop_frame,
         "width": info.width, "height": info.height, "level": level,
         "n_scenes": len(scenes),
         "conformed": make.conform.metadata() if make.conform.active else None,
         "audio": [_audio_meta(a) for a in info.audio] or None,
         # only where they differ from square pixels, progressive: what the NLE writers need
         "sample_aspect": info.sample_aspect if info.sample_aspect != 1 else None,
         "field_order": info.field_order if info.field_order != "progressive" else None,
         # a phone's portrait film, stored landscape: clockwise degrees that turn it upright
         # (Blender's VSE does not read the display matrix; the add-on turns its strips)
         "rotation": info.rotation or None})
    track = otio.schema.Track(name="Scenes", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    if level == "scenes":
        for scene in scenes:
            item = make.clip(scene_title(scene.index), scene.start, scene.end,
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
    for k, stream in enumerate(info.audio):
        timeline.tracks.append(_sound_track(track, stream, k))
    return timeline


def _audio_meta(stream: AudioStream) -> dict:
    return {"stream": stream.index, "channels": stream.channels,
            "sample_rate": stream.sample_rate, "codec": stream.codec}


def _sound_track(video: otio.schema.Track, stream: AudioStream, k: int) -> otio.schema.Track:
    """The stream's sound under every picture clip: same name, range and media file."""
    track = otio.schema.Track(name="Sound" if k == 0 else f"Sound {k + 1}",
                              kind=otio.schema.TrackKind.Audio)
    track.metadata[NS] = _audio_meta(stream)
    for item in video:
        if isinstance(item, otio.schema.Clip):
            ref = item.media_reference
            sound = otio.schema.Clip(
                name=item.name, source_range=item.source_range,
                media_reference=otio.schema.ExternalReference(
                    target_url=ref.target_url, available_range=ref.available_range))
            sound.metadata[NS] = {"audio_stream": stream.index, "picture": item.name}
        else:
            sound = item.clone()
        track.append(sound)
    return track


def audio_tracks(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
    """The timeline's sound tracks, in order (none for media without sound)."""
    return list(timeline.audio_tracks())


def picture_clips(timeline: otio.schema.Timeline) -> list[otio.schema.Clip]:
    """Clips of the picture track every writer cuts (`Scenes`, else the first video track)."""
    return _video_clips(timeline)


def sound_follows_picture(timeline: otio.schema.Timeline) -> bool:
    """True when every audio track holds exactly the picture's clips (same media, source range
    and record position): the film's sound under its picture, as `scenesem cut` makes it. A
    writer may then lay the sound under each picture clip; otherwise the sound was edited
    apart (a J/L cut, a slip, music from another file) and its own clips must be written."""
    def placed(clips: list[otio.schema.Clip]) -> list[tuple]:
        return [(clip_path(c), c.source_range, c.range_in_parent().start_time) for c in clips]

    picture = placed(_video_clips(timeline))
    return all(placed([c for c in track.find_clips(shallow_search=True)
                       if c.source_range is not None]) == picture
               for track in audio_tracks(timeline))


def sound_facts(timeline: otio.schema.Timeline) -> list[dict]:
    """Each audio track's channels and sample rate (48 kHz when unknown, as NLEs assume)."""
    out = []
    for track, channels in zip(audio_tracks(timeline), sound_channels(timeline)):
        meta = track.metadata.get(NS, {})
        rate = meta.get("sample_rate") if hasattr(meta, "get") else None
        out.append({"channels": channels, "sample_rate": int(rate or 48000)})
    return out


def sound_channels(timeline: otio.schema.Timeline) -> list[int]:
    """Channels of each audio track: from our metadata; else one per track when there are
    several (as EDL and FCP7 readers give them, a track per channel), two for a lone track."""
    tracks = audio_tracks(timeline)
    out = []
    for track in tracks:
        meta = track.metadata.get(NS, {})
        channels = meta.get("channels") if hasattr(meta, "get") else None
        out.append(int(channels) if channels else 2 if len(tracks) == 1 else 1)
    return out


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
        if getattr(ref, "target_url", None):
            path = clip_path(item, local_only=True)
            return path, (Fraction(rate).limit_denominator(1001) if rate else None)
    return None, None


def timeline_rate(timeline: otio.schema.Timeline) -> float | None:
    for item in timeline.find_clips():
        if item.source_range is not None:
            return item.source_range.duration.rate
    return None


class _Reading:
    """How timeline frames map back to the media: rate, start TC, and the conform if any."""

    def __init__(self, timeline: otio.schema.Timeline, info: VideoInfo | None,
                 source: str) -> None:
        self.conform = conform_for(info) if info is not None else None
        found = timeline_rate(timeline)
        if info is not None:
            conform = self.conform
            assert conform is not None
            expected = float(conform.rate) if conform.active else float(info.fps)
            if found is not None and abs(found - expected) > 0.01:
                raise TimelineError(
                    f"{source}: timeline rate {found:.3f} fps differs from the media's "
                    f"{expected:.3f} fps")
            self.fps = expected
            self.base = _start_frame(info, conform)
        else:
            if found is None:
                raise TimelineError(f"{source}: timeline has no clips with a time range")
            self.fps, self.base = found, 0

    def start(self, item: otio.schema.Clip) -> int:
        return media_start(item, self.fps, self.base)

    def media(self, k: int) -> int:
        """Timeline frame (from the media's first) -> media frame."""
        return self.conform.to_media(k) if self.conform is not None else k


def _video_clips(timeline: otio.schema.Timeline) -> list[otio.schema.Clip]:
    tracks = list(timeline.video_tracks()) or list(timeline.tracks)
    named = [t for t in tracks if t.name == "Scenes"]
    for track in named + tracks:
        clips = [c for c in track.find_clips(shallow_search=True) if c.source_range is not None]
        if clips:
            return clips
    return []


Span = tuple[int, int, str, str, dict, dict]  # start, end, title, comment, metadata, extra


def _marker_spans(timeline: otio.schema.Timeline, clips: list[otio.schema.Clip],
                  read: _Reading) -> list[Span]:
    """Ranged markers on clips (relative to their media) and on the tracks (absolute)."""
    fps = read.fps

    def span(m: otio.schema.Marker, offset: int) -> Span:
        s = frames(m.marked_range.start_time, fps) - offset
        e = s + frames(m.marked_range.duration, fps)
        return (read.media(s), read.media(e), m.name, m.comment or "",
                plain_metadata(m.metadata.get(NS, {})), {})

    spans = [span(m, read.start(item)) for item in clips for m in item.markers
             if frames(m.marked_range.duration, fps) > 1]
    tracks = list(timeline.video_tracks()) or list(timeline.tracks)
    stack_markers = list(timeline.tracks.markers) + [m for t in tracks for m in t.markers]
    spans += [span(m, 0) for m in stack_markers if frames(m.marked_range.duration, fps) > 1]
    return spans


def _clip_spans(clips: list[otio.schema.Clip], read: _Reading) -> list[Span]:
    """Each clip a scene; a shot-level timeline's clips grouped by their scene index."""
    grouped: dict[Any, list[tuple[int, int, otio.schema.Clip]]] = {}
    for k, item in enumerate(clips):
        s = frames(item.source_range.start_time, read.fps) - read.start(item)
        e = read.media(s + frames(item.source_range.duration, read.fps))
        s = read.media(s)
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
    read = _Reading(timeline, info, source)
    clips = _video_clips(timeline)
    n_max = info.n_frames if info is not None else None
    spans = _marker_spans(timeline, clips, read) or _clip_spans(clips, read)
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
    read = _Reading(timeline, info, source)
    cuts = set()
    for item in _video_clips(timeline):
        cuts.add(read.media(frames(item.source_range.start_time, read.fps) - read.start(item)))
    n_max = info.n_frames if info is not None else None
    past = [c for c in cuts if n_max is not None and c >= n_max]
    if info is not None and past:  # most likely the edit of another film, or of a longer cut
        log.warning("%s: %d of its %d cuts lie past the end of %s (%d frames) and are "
                    "ignored; is it an edit of this film?", source, len(past),
                    sum(c > 0 for c in cuts),
                    Path(info.path).name, n_max)
    return sorted(c for c in cuts if c > 0 and (n_max is None or c < n_max))
