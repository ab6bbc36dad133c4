"""Timeline stage: scenes as CSV or JSON tables for scripts (frames, timecode, seconds, scores).

Reads our own tables back, and any CSV of scene starts (`start_frame`, `start_s` or
`start_tc`), so `scenesem eval` can compare against a spreadsheet. The sound: the CSV's
`audio_channels` column (channels cut with each clip, 0 for a silent film), the JSON's
`metadata.audio` streams or its rows of kind "Audio" (sound clips placed on their own, as the
Blender add-on exports them); all read back as audio tracks like the other formats'.
"""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from scenesem_otio.adapters import nle
from scenesem_otio.adapters.conform import timeline_rate_of
from scenesem_otio.adapters.frames import frames, record_start
from scenesem_otio.adapters.timeline import (
    NS,
    picture_clips,
    plain_metadata,
    sound_channels,
)
from scenesem_otio.core.errors import TimelineError
from scenesem_otio.core.scenes import scene_title


def _rows(timeline: otio.schema.Timeline) -> list[dict[str, Any]]:
    rate, drop = nle.rate_info(timeline)
    fr = float(rate)
    base = record_start(timeline, fr)
    channels = sum(sound_channels(timeline))
    rows = []
    for k, item in enumerate(picture_clips(timeline)):
        start = frames(item.source_range.start_time, fr) - base
        end = start + frames(item.source_range.duration, fr)
        meta = plain_metadata(item.metadata.get(NS, {}))
        rows.append({
            "index": k, "name": item.name, "start_frame": start, "end_frame": end,
            "start_tc": nle.timecode(base + start, rate, drop),
            "end_tc": nle.timecode(base + end, rate, drop),
            "start_s": round(float(start / rate), 6), "end_s": round(float(end / rate), 6),
            "distance_prev": meta.get("distance_prev"),
            "boundary_score": meta.get("boundary_score"), "audio_channels": channels,
        })
    return rows


def to_csv(timeline: otio.schema.Timeline) -> str:
    rows = _rows(timeline)
    buf = io.StringIO()
    fields = ["index", "name", "start_frame", "end_frame", "start_tc", "end_tc", "start_s",
              "end_s", "distance_prev", "boundary_score", "audio_channels"]
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


def to_json(timeline: otio.schema.Timeline) -> dict[str, Any]:
    """The table plus what an editor needs to rebuild the edit with the standard library only
    (the Blender add-on): media (with its first frame's number, its start timecode, and the
    clip's first frame counted from there), track, position on the timeline, the marker."""
    meta = plain_metadata(timeline.metadata.get(NS, {}))
    rate, _ = nle.rate_info(timeline)
    rows = _rows(timeline)
    tracks = list(timeline.tracks)
    for row, item in zip(rows, picture_clips(timeline)):
        row["metadata"] = plain_metadata(item.metadata.get(NS, {}))
        url = getattr(item.media_reference, "target_url", None)
        if url:
            row["media"] = url
            available = item.media_reference.available_range
            if available is not None:  # frames from the media's own first frame (its TC)
                first = frames(available.start_time, float(rate))
                row["media_start_frame"] = first
                row["media_in_frame"] = frames(item.source_range.start_time, float(rate)) - first
        track = item.parent()
        row["track"] = tracks.index(track) if track in tracks else 0
        row["kind"] = getattr(track, "kind", otio.schema.TrackKind.Video)
        row["timeline_frame"] = frames(item.range_in_parent().start_time, float(rate))
        if item.markers:
            m = item.markers[0]
            row["marker"] = {"name": m.name, "color": m.color, "comment": m.comment or ""}
    return {"format": "scenesem-scenes", "version": 1, "name": timeline.name,
            "metadata": meta, "clips": rows}


def read_csv(path: Path, rate: float | Fraction | None) -> otio.schema.Timeline:
    """Our CSV, or any CSV of scene starts: a column start_frame, start_s or start_tc."""
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    if not rows:
        raise TimelineError(f"{path}: empty CSV")
    fields = {k.strip().lower(): k for k in rows[0] if k}
    fr = float(timeline_rate_of(rate)) if rate else 25.0  # as `to_csv` counted
    key = next((fields[k] for k in ("start_frame", "start_s", "start", "start_tc")
                if k in fields), None)
    if key is None:
        raise TimelineError(f"{path}: CSV needs a start_frame, start_s or start_tc column")
    starts = []
    for row in rows:
        value = (row.get(key) or "").strip()
        try:
            if key.lower() == "start_frame":
                starts.append(int(float(value)))
            elif key.lower() == "start_tc":
                starts.append(otio.opentime.from_timecode(value, fr).to_frames())
            else:
                starts.append(round(float(value) * fr))
        except ValueError:
            raise TimelineError(f"{path}: bad value {value!r} in column {key}") from None
    end_key = fields.get("end_frame")
    ends = [int(float(r[end_key])) for r in rows] if end_key else None
    starts_sorted = sorted(set(starts))
    timeline = otio.schema.Timeline(name=path.stem)
    track = otio.schema.Track(name="Scenes")
    timeline.tracks.append(track)
    for i, s in enumerate(starts_sorted):
        e = ends[starts.index(s)] if ends else (
            starts_sorted[i + 1] if i + 1 < len(starts_sorted) else s + 1)
        track.append(otio.schema.Clip(
            name=scene_title(i), media_reference=_zero_based(fr),
            source_range=TimeRange(RationalTime(s, fr), RationalTime(max(1, e - s), fr))))
    timeline.metadata[NS] = {"open_end": ends is None}
    channel_key = fields.get("audio_channels")
    channels = max((int(float(r[channel_key] or 0)) for r in rows), default=0) \
        if channel_key else 0
    if channels > 0:
        _add_sound(timeline, [{"channels": channels}])
    return timeline


def _add_sound(timeline: otio.schema.Timeline, streams: list[dict]) -> None:
    """Audio tracks (one per stream) holding a copy of every clip of the `Scenes` track."""
    video = timeline.tracks[0]
    for k, stream in enumerate(streams):
        track = otio.schema.Track(name="Sound" if k == 0 else f"Sound {k + 1}",
                                  kind=otio.schema.TrackKind.Audio)
        track.metadata[NS] = dict(stream)
        for item in video:
            copy = item.clone()
            if isinstance(copy, otio.schema.Clip):
                copy.markers.clear()  # the markers stay on the picture
            track.append(copy)
        timeline.tracks.append(track)


def read_json(path: Path) -> otio.schema.Timeline:
    """Our JSON back to a timeline: each track's clips at their `timeline_frame` (gaps between),
    on their `media` when named, with their marker. Frames count from the clip's
    `media_start_frame` when given (`media_in_frame` then is the clip's first frame), else from
    the film's start timecode (`metadata.start_timecode`). Sound: rows of kind "Audio" on their
    own tracks (the Blender add-on's export, sound edited apart from its picture), else a copy
    of the picture per `metadata.audio` stream (the CLI's tables)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != "scenesem-scenes":
        raise TimelineError(f"{path}: not a scenesem scenes JSON (format key missing)")
    meta = data.get("metadata", {})
    fps = Fraction(str(meta.get("fps", "25")))
    fr = float(fps)
    tc = meta.get("start_timecode")
    base = otio.opentime.from_timecode(str(tc), fr).to_frames() if tc else 0
    timeline = otio.schema.Timeline(name=data.get("name") or path.stem)
    timeline.metadata[NS] = meta
    if base:
        timeline.global_start_time = RationalTime(base, fr)
    tracks: dict[int, otio.schema.Track] = {}
    firsts = {int(r["media_start_frame"]) for r in data["clips"]
              if r.get("media_start_frame") is not None}
    if not base and len(firsts) == 1 and firsts != {0}:  # one film's TC: the record starts there
        timeline.global_start_time = RationalTime(next(iter(firsts)), fr)
    for row in data["clips"]:
        s, e = int(row["start_frame"]), int(row["end_frame"])
        first = base
        if row.get("media_start_frame") is not None:  # media-relative frames, per clip
            first = int(row["media_start_frame"])
            if row.get("media_in_frame") is not None:
                s, e = int(row["media_in_frame"]), int(row["media_in_frame"]) + e - s
        track = _track(tracks, row)
        at = row.get("timeline_frame")
        if at is not None and int(at) > track.duration().to_frames():
            track.append(otio.schema.Gap(duration=RationalTime(
                int(at) - track.duration().to_frames(), fr)))
        item = otio.schema.Clip(
            name=str(row.get("name", "")),
            media_reference=_media(row.get("media"), fr, first,
                                   int(row.get("media_frames") or meta.get("n_frames") or 10**9)),
            source_range=TimeRange(RationalTime(first + s, fr), RationalTime(e - s, fr)))
        item.metadata[NS] = row.get("metadata", {})
        marker = row.get("marker")
        if isinstance(marker, dict) and marker.get("name") is not None:
            item.markers.append(otio.schema.Marker(
                name=str(marker["name"]), color=str(marker.get("color") or "GREEN"),
                marked_range=TimeRange(RationalTime(first + s, fr), RationalTime(0, fr)),
                comment=str(marker.get("comment") or "")))
        track.append(item)
    for number in sorted(tracks):
        timeline.tracks.append(tracks[number])
    sounds = list(timeline.audio_tracks())
    for k, track in enumerate(sounds):  # the sound as its own rows (the Blender add-on's)
        track.name = "Sound" if k == 0 else f"Sound {k + 1}"
    if not sounds and isinstance(meta.get("audio"), list):  # the CLI's: the film's streams
        _add_sound(timeline, [a for a in meta["audio"] if isinstance(a, dict)])
    return timeline


def _track(tracks: dict[int, otio.schema.Track], row: dict) -> otio.schema.Track:
    """The row's track, made on its first row: the first, a video track, is `Scenes`; an
    audio track takes its sound's channels and sample rate from there (`sound_facts`)."""
    number = int(row.get("track", 0))
    if number not in tracks:
        kind = str(row.get("kind", otio.schema.TrackKind.Video))
        tracks[number] = otio.schema.Track(
            name="Scenes" if not tracks and kind == otio.schema.TrackKind.Video else "",
            kind=kind)
        if kind == otio.schema.TrackKind.Audio:
            tracks[number].metadata[NS] = {
                key: int(row[field]) for key, field in (("channels", "audio_channels"),
                                                        ("sample_rate", "sample_rate"))
                if row.get(field)}
    return tracks[number]


def _media(url: Any, fr: float, base: int, n_frames: int) -> otio.core.MediaReference:
    if not url:
        return _zero_based(fr, base)
    return otio.schema.ExternalReference(target_url=str(url), available_range=TimeRange(
        RationalTime(base, fr), RationalTime(n_frames, fr)))


def _zero_based(fr: float, base: int = 0) -> otio.schema.MissingReference:
    """CSV/JSON frames count from the media's first frame: say so with a range from there."""
    return otio.schema.MissingReference(
        available_range=TimeRange(RationalTime(base, fr), RationalTime(10**9, fr)))
