"""The `.json` scene table `scenesem` writes and reads, with the standard library only.

Blender's Python has no OpenTimelineIO: the CLI converts every timeline to this table
(`scenesem convert X -o T.json`, `scenesem cut … -o T.json`) and back. Frames in `start_frame`
/`end_frame` count from the media's first frame; `timeline_frame` is the clip's place on its
track; `marker` is the clip's marker as the CLI named it ("S002 Δ0.71"). Rows of `kind`
"Audio" are sound clips on their own tracks, with the sound's `audio_channels` and
`sample_rate` (the add-on's export writes them; the CLI's own tables give `metadata.audio`).
The CLI's `metadata` names archive media's pixel shape (`sample_aspect`, "64/45") and scan
(`field_order`, "tff"/"bff") where the picture is not square/progressive, and a phone's
portrait film's `rotation` (clockwise degrees that turn the stored frame upright) where it
has one; `width`/`height` are the picture as shown, after the turn.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote, urlparse

FORMAT = "scenesem-scenes"

# OTIO marker colours (the CLI's Δ categories) -> Blender strip colour tags.
COLOR_TAGS = {
    "RED": "COLOR_01", "ORANGE": "COLOR_02", "YELLOW": "COLOR_03", "GREEN": "COLOR_04",
    "BLUE": "COLOR_05", "CYAN": "COLOR_05", "PURPLE": "COLOR_06", "MAGENTA": "COLOR_06",
    "PINK": "COLOR_07", "BLACK": "COLOR_08", "WHITE": "COLOR_09",
}
MARKER_COLORS = {"COLOR_01": "RED", "COLOR_02": "ORANGE", "COLOR_03": "YELLOW",
                 "COLOR_04": "GREEN", "COLOR_05": "BLUE", "COLOR_06": "PURPLE",
                 "COLOR_07": "PINK", "COLOR_08": "BLACK", "COLOR_09": "WHITE"}


class AddonError(Exception):
    """A user-facing failure: one line in Blender's report area, strips left as they were."""


@dataclass
class Clip:
    """One row of the table: a range of one media file placed on one track."""

    name: str
    start: int  # first media frame
    end: int  # exclusive
    media: str | None  # local path, None when the timeline names none
    track: int = 0
    kind: str = "Video"
    timeline_frame: int | None = None
    marker: str | None = None
    marker_color: str = "GREEN"
    metadata: dict = field(default_factory=dict)
    media_frames: int | None = None  # the media's length, when known
    media_start: int | None = None  # number of the media's first frame (its start timecode)
    audio_channels: int | None = None  # an Audio row's sound: channels and sample rate
    sample_rate: int | None = None


INTERLACED = ("tff", "bff")  # the CLI's field orders of interlaced media
ROTATIONS = (0, 90, 180, 270)  # the turns a display matrix gives (probe: clockwise degrees)


@dataclass
class SceneList:
    name: str
    fps: Fraction | None
    clips: list[Clip]
    metadata: dict
    sample_aspect: Fraction = Fraction(1)  # the media's pixel width / height (64/45: PAL 16:9)
    field_order: str = "progressive"  # "tff", "bff": interlaced
    rotation: int = 0  # clockwise degrees that turn the stored frames upright (phone: 90, 270)

    @property
    def interlaced(self) -> bool:
        return self.field_order in INTERLACED

    @property
    def video(self) -> list[Clip]:
        return [c for c in self.clips if c.kind == "Video"]


def scene_label(index: int) -> str:
    """"S001" for scene 0: scenesem_otio.core.scenes.scene_label, which Blender cannot import."""
    return f"S{index + 1:03d}"


def scene_title(index: int) -> str:
    """"Scene 001" for scene 0, as the CLI names clips (scenesem_otio.core.scenes.scene_title)."""
    return f"Scene {index + 1:03d}"


def rate_text(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def _local_path(url: str | None) -> str | None:
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("file", ""):
        return None
    return unquote(parsed.path)


def read_scene_list(path: str | os.PathLike, source: str | None = None) -> SceneList:
    """The table at `path`; AddonError naming the file (or `source`, the timeline the table
    was converted from) when it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a scenesem scene table")
        meta = data.get("metadata") or {}
        fps = Fraction(str(meta["fps"])) if meta.get("fps") else None
        aspect = Fraction(str(meta.get("sample_aspect") or 1))
        if aspect <= 0:
            raise ValueError(f"sample_aspect {aspect}")
        rotation = meta.get("rotation") or 0
        if rotation not in ROTATIONS:
            raise ValueError(f"rotation {rotation!r}, not one of {ROTATIONS}")
        clips = []
        for row in data["clips"]:
            marker = row.get("marker") or {}
            start, end = int(row["start_frame"]), int(row["end_frame"])
            if row.get("media_in_frame") is not None:  # counted from the media's first frame
                start, end = int(row["media_in_frame"]), int(row["media_in_frame"]) + end - start
            clips.append(Clip(
                name=str(row.get("name") or ""), start=start, end=end,
                media=_local_path(row.get("media")),
                media_start=(int(row["media_start_frame"])
                             if row.get("media_start_frame") is not None else None),
                track=int(row.get("track", 0)), kind=str(row.get("kind", "Video")),
                timeline_frame=(int(row["timeline_frame"])
                                if row.get("timeline_frame") is not None else None),
                marker=str(marker["name"]) if marker.get("name") is not None else None,
                marker_color=str(marker.get("color") or "GREEN"),
                metadata=dict(row.get("metadata") or {}),
                audio_channels=int(row["audio_channels"]) if row.get("audio_channels") else None,
                sample_rate=int(row["sample_rate"]) if row.get("sample_rate") else None))
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as err:
        raise AddonError(f"{source or path.name}: cannot read the scene table ({err})") from None
    return SceneList(str(data.get("name") or path.stem), fps, clips, dict(meta), aspect,
                     str(meta.get("field_order") or "progressive"), int(rotation))


def write_scene_list(path: str | os.PathLike, name: str, fps: Fraction, clips: list[Clip],
                     metadata: dict | None = None) -> None:
    """Write the table the CLI converts to any timeline format (`scenesem convert`)."""
    rows = []
    for k, c in enumerate(clips):
        row = {"index": k, "name": c.name, "start_frame": c.start, "end_frame": c.end,
               "track": c.track, "kind": c.kind, "metadata": c.metadata}
        if c.media:
            row["media"] = Path(c.media).absolute().as_uri()
        if c.timeline_frame is not None:
            row["timeline_frame"] = c.timeline_frame
        if c.media_frames:
            row["media_frames"] = c.media_frames
        if c.media_start is not None:
            row["media_start_frame"] = c.media_start
        if c.audio_channels:
            row["audio_channels"] = c.audio_channels
        if c.sample_rate:
            row["sample_rate"] = c.sample_rate
        if c.marker is not None:
            row["marker"] = {"name": c.marker, "color": c.marker_color, "comment": ""}
        rows.append(row)
    data = {"format": FORMAT, "version": 1, "name": name,
            "metadata": {**(metadata or {}), "fps": rate_text(fps)}, "clips": rows}
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def nearest_text(metadata: dict) -> str:
    """"S001 0.42, S003 0.55": the nearest earlier scenes, as the CLI's marker comments say."""
    parts = []
    for item in metadata.get("nearest") or []:
        try:
            parts.append(f"{scene_label(int(item['scene']))} {float(item['distance']):.2f}")
        except (KeyError, TypeError, ValueError):
            continue
    return ", ".join(parts)
