"""Timeline stage, MLT writers and reader: Kdenlive (.kdenlive) and Shotcut (.mlt) projects.

Both are MLT XML, which `melt` renders as it stands. Every position is a frame count from the
media's first frame at the media's exact rate, under a profile at that rate, so timeline frame n
plays file frame n whatever start timecode the media carries (MLT knows nothing of timecode).

Sound, when the media has it: Kdenlive gets an audio track `Sound` under the video track, each
scene's picture and sound grouped as Kdenlive groups an AV clip (an `AVSplit` group), and a
`mix` transition so it is heard; Shotcut plays a clip's sound from its video track, as Shotcut
itself does. Both play the media's first audio stream (MLT's default, Kdenlive's and
Shotcut's on import); the other streams stay in the file. Sound edited apart from its picture
(audio tracks that are not the picture clips: a J/L cut, music from another file) is written as
it stands instead: Kdenlive an audio track per OTIO track, grouping only the clips that still
coincide; Shotcut audio tracks of its own, the video track muted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from scenesem_otio.adapters.frames import clip_path, frames, media_start
from scenesem_otio.adapters.nle import rate_info, timecode
from scenesem_otio.adapters.picture import picture_format, picture_metadata
from scenesem_otio.adapters.timeline import NS, sound_facts, sound_follows_picture
from scenesem_otio.core.errors import TimelineError

log = logging.getLogger("scenesem")

MLT_VERSION = "7.12.0"  # Debian 12's MLT, under Kdenlive 22.12.3 and Shotcut 22.12
KDENLIVE_VERSION = "22.12.3"
KDENLIVE_DOC_VERSION = "1.04"  # the format Kdenlive 20.08-22.12 write; 23.04+ upgrade it

# Kdenlive 22.12's nine marker/guide categories (MarkerListModel::markerTypes), by OTIO colour:
# 0 #9b59b6 purple, 1 #3daee9 blue, 2 #1abc9c, 3 #1cdc9a green, 4 #c9ce3b, 5 #fdbc4b yellow,
# 6 #f39c1f orange, 7 #f47750, 8 #da4453 red.
KDENLIVE_CATEGORY = {"PURPLE": 0, "MAGENTA": 0, "BLUE": 1, "CYAN": 2, "GREEN": 3, "YELLOW": 5,
                     "ORANGE": 6, "PINK": 7, "RED": 8}
HEX_COLOR = {"PURPLE": "#9b59b6", "MAGENTA": "#9b59b6", "BLUE": "#3daee9", "CYAN": "#1abc9c",
             "GREEN": "#1cdc9a", "YELLOW": "#fdbc4b", "ORANGE": "#f39c1f", "PINK": "#f47750",
             "RED": "#da4453", "WHITE": "#ffffff", "BLACK": "#000000"}


@dataclass
class _Media:
    key: str  # producer id
    path: str
    start: int  # media's first frame as a timecode frame count (0 without timecode)
    length: int  # frames available
    kdenlive_id: int
    clip_markers: dict[int, str] = field(default_factory=dict)  # media frame -> clip name
    channels: int = 0  # of a file only the sound plays; 0: the picture's (the plan's)


@dataclass
class _Entry:
    media: _Media | None  # None: a blank
    src_in: int  # media-relative first frame
    length: int
    name: str = ""


@dataclass
class _Marker:
    pos: int  # record frame
    name: str
    comment: str
    color: str


@dataclass
class _Plan:
    name: str
    rate: Fraction
    drop: bool
    width: int
    height: int
    media: list[_Media]
    entries: list[_Entry]
    markers: list[_Marker]
    channels: int = 0  # of the sound every clip carries (the first stream); 0: silent
    # The audio tracks' own clips (name, entries) when the sound was edited apart from the
    # picture; empty when it follows the picture, each scene's sound under its clip.
    sound: list[tuple[str, list[_Entry]]] = field(default_factory=list)
    sample_aspect: Fraction = Fraction(1)  # pixel shape: 64/45 for PAL 16:9 720x576
    field_order: str = "progressive"  # or "tff" / "bff"

    @property
    def length(self) -> int:
        return max(sum(e.length for e in entries)
                   for entries in [self.entries, *(es for _, es in self.sound)])

    @property
    def audio_tracks(self) -> list[tuple[str, list[_Entry]]]:
        """The audio tracks to write, first (A1) first: the sound's own, or the film's sound
        under every picture clip."""
        if self.sound:
            return self.sound
        return [("Sound", self.entries)] if self.channels > 0 else []


def _frames(t: RationalTime, fr: float) -> int:
    return frames(t, fr)


def _distance(marker: otio.schema.Marker) -> float | None:
    meta = marker.metadata.get(NS, {})
    value = meta.get("distance_prev") if hasattr(meta, "get") else None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _label(marker: otio.schema.Marker) -> str:
    """Marker name with the distance to the previous scene, e.g. `S012 Δ0.71`."""
    name = marker.name or ""
    d = _distance(marker)
    if d is not None and "Δ" not in name:
        name = f"{name} Δ{d:.2f}".strip()
    return name


def _track_entries(track: otio.schema.Track, fr: float, media: dict[str, _Media],
                   markers: list[_Marker] | None, channels: int = 0) -> list[_Entry]:
    """A track's clips and gaps as entries, each media file once in `media` (new ones carry
    `channels`); with `markers` (the picture track) scene names and markers are gathered too."""
    entries: list[_Entry] = []
    record = 0
    for item in track:
        if isinstance(item, otio.schema.Gap):
            n = _frames(item.source_range.duration, fr) if item.source_range else 0
            if n > 0:
                entries.append(_Entry(None, 0, n))
                record += n
            continue
        if not isinstance(item, otio.schema.Clip) or item.source_range is None:
            continue
        path = clip_path(item)
        if path is None:
            raise TimelineError(f"clip {item.name!r} has no media file; an MLT project "
                                "(.kdenlive/.mlt) must name the file it plays")
        start0 = media_start(item, fr)
        src = _frames(item.source_range.start_time, fr)
        n = _frames(item.source_range.duration, fr)
        if n <= 0:
            continue
        if path not in media:
            avail = getattr(item.media_reference, "available_range", None)
            length = _frames(avail.duration, fr) if avail is not None else 0
            media[path] = _Media(f"chain{len(media)}", path, start0, length, 2 + len(media),
                                 channels=channels)
        m = media[path]
        m.length = max(m.length, src - start0 + n)  # a range past the known end still plays
        entries.append(_Entry(m, src - start0, n, item.name))
        if markers is not None:
            # Kdenlive hides a clip marker on a clip's first frame (drawn at x < 0): the scene
            # name goes on its middle frame, where it reads as the clip's title at any zoom.
            m.clip_markers.setdefault(src - start0 + (n - 1) // 2, item.name)
            markers += [_Marker(record + at - src, _label(mk), mk.comment or "",
                                str(mk.color).upper()) for mk in item.markers
                        if src <= (at := _frames(mk.marked_range.start_time, fr)) < src + n]
        record += n
    return entries


def _plan(timeline: otio.schema.Timeline) -> _Plan:
    """Everything the writers need, in frames at the media's rate, from the first video track
    and, when the sound was edited apart from the picture, from the audio tracks too."""
    rate, drop = rate_info(timeline)
    fr = float(rate)
    tracks = list(timeline.video_tracks()) or list(timeline.tracks)
    named = [t for t in tracks if t.name == "Scenes"]
    track = (named or tracks or [None])[0]
    if track is None:
        raise TimelineError(f"timeline {timeline.name!r} has no track to write")
    media: dict[str, _Media] = {}
    markers: list[_Marker] = []
    entries = _track_entries(track, fr, media, markers)
    for mk in [*track.markers, *timeline.tracks.markers]:
        markers.append(_Marker(_frames(mk.marked_range.start_time, fr), _label(mk),
                               mk.comment or "", str(mk.color).upper()))
    if not any(e.media for e in entries):
        raise TimelineError(f"timeline {timeline.name!r} has no clips to write")
    markers.sort(key=lambda m: m.pos)
    picture = picture_format(timeline, [m.path for m in media.values()])
    sound = sound_facts(timeline)
    own = [] if sound_follows_picture(timeline) else [
        (t.name or f"Sound {k + 1}", _track_entries(t, fr, media, None, facts["channels"]))
        for k, (t, facts) in enumerate(zip(timeline.audio_tracks(), sound))]
    return _Plan(timeline.name or "scenesem", rate, drop, picture.width, picture.height,
                 list(media.values()), entries, markers, sound[0]["channels"] if sound else 0,
                 own, picture.sample_aspect, picture.field_order)


# ---------------------------------------------------------------- XML helpers


def _prop(parent: ET.Element, name: str, value: Any) -> ET.Element:
    el = ET.SubElement(parent, "property", name=name)
    if value is not None and value != "":
        el.text = str(value)
    return el


def _profile(root: ET.Element, plan: _Plan) -> None:
    """Profile at the media's exact rate, size, pixel shape and scan, so that archive footage
    (720x576 with 64/45 pixels, interlaced) is shown 16:9 and rendered with its fields."""
    w, h = plan.width, plan.height
    sar = plan.sample_aspect
    dar = w * sar / h
    rate = plan.rate
    fps = f"{float(rate):.3f}".rstrip("0").rstrip(".")
    scan = "" if plan.field_order == "progressive" else "i"
    ET.SubElement(root, "profile", {
        "description": f"{w}x{h}{scan} {fps} fps" + ("" if sar == 1 else
                                                      f" {dar.numerator}:{dar.denominator}"),
        "width": str(w), "height": str(h),
        "progressive": "0" if scan else "1",
        "sample_aspect_num": str(sar.numerator), "sample_aspect_den": str(sar.denominator),
        "display_aspect_num": str(dar.numerator), "display_aspect_den": str(dar.denominator),
        "frame_rate_num": str(rate.numerator), "frame_rate_den": str(rate.denominator),
        "colorspace": "709" if h >= 720 else "601"})


def _media_service(root: ET.Element, tag: str, m: _Media, extra: dict[str, Any],
                   channels: int = 0, key: str | None = None,
                   service: str = "avformat-novalidate") -> ET.Element:
    """The media file as an avformat producer: a `chain` for Shotcut (as it writes), a
    `producer` for Kdenlive (22.12 badges clips of a chain with "R", time remapped).
    `avformat-novalidate` opens the file only at the first frame; `avformat` opens it on load."""
    el = ET.SubElement(root, tag, {"id": key or m.key, "in": "0", "out": str(m.length - 1)})
    _prop(el, "length", m.length)
    _prop(el, "eof", "pause")
    _prop(el, "resource", m.path)
    _prop(el, "mlt_service", service)
    _prop(el, "seekable", 1)
    # The media's start timecode, which MLT ignores: our reader puts it back on the clips.
    _prop(el, "scenesem:start_frame", m.start)
    if channels:  # the sound our reader gives back as an audio track
        _prop(el, "scenesem:audio_channels", channels)
    for k, v in extra.items():
        _prop(el, k, v)
    return el


def _playlist_entries(playlist: ET.Element, entries: list[_Entry], kdenlive: bool,
                      producers: list[str] | None = None) -> None:
    """A track's clips (and blanks); `producers`: one producer id per entry (Shotcut)."""
    for k, e in enumerate(entries):
        if e.media is None:
            ET.SubElement(playlist, "blank", length=str(e.length))
            continue
        key = producers[k] if producers else e.media.key
        entry = ET.SubElement(playlist, "entry", {
            "producer": key, "in": str(e.src_in), "out": str(e.src_in + e.length - 1)})
        if kdenlive:
            _prop(entry, "kdenlive:id", e.media.kdenlive_id)
        _prop(entry, "scenesem:name", e.name)


def _xml(root: ET.Element) -> str:
    ET.indent(root, " ")
    return "<?xml version='1.0' encoding='utf-8'?>\n" + ET.tostring(root, encoding="unicode") + "\n"


def _name(path: str) -> str:
    return Path(path).name


def _document_id(plan: _Plan) -> str:
    """Stable per timeline (Kdenlive keys its cache folder on it); 13 digits like its own."""
    digest = hashlib.sha1(f"{plan.name}|{[m.path for m in plan.media]}".encode()).hexdigest()
    return str(int(digest[:12], 16) % 10**13).rjust(13, "1")


def _notes(plan: _Plan) -> str:
    """Project notes: one line per scene marker with its record timecode and comment."""
    lines = []
    for mk in plan.markers:
        tc = timecode(mk.pos, plan.rate, plan.drop)
        lines.append(f"{tc} {mk.name}" + (f": {mk.comment}" if mk.comment else ""))
    return "<br/>".join(_escape(line) for line in lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- writers


def kdenlive_xml(timeline: otio.schema.Timeline) -> str:
    """A Kdenlive project (document version 1.04, as 22.12 writes; later versions upgrade it).

    One bin clip per media file, named after it, with a clip marker holding the scene name on
    each scene's middle frame (Kdenlive names every timeline clip after its bin clip, so a clip
    marker is where a scene's own name shows on the timeline); the scene markers become project
    guides, the distance in their comment and the category by colour.
    """
    plan = _plan(timeline)
    root = ET.Element("mlt", {"LC_NUMERIC": "C", "producer": "main_bin",
                              "version": MLT_VERSION})
    _profile(root, plan)
    _kdenlive_bin_clips(root, plan)
    _kdenlive_bin(root, plan)
    _kdenlive_black_track(root, plan.length)
    n_tracks = _kdenlive_tracks(root, plan)
    _kdenlive_project_tractor(root, plan, n_tracks)
    return _xml(root)


def _kdenlive_bin_clips(root: ET.Element, plan: _Plan) -> None:
    """One producer per media file: Kdenlive shows a scene's name only as a bin clip marker.

    The service is `avformat`, which opens the file as the document loads: the producer then
    carries the file's `meta.media.*` stream facts and an `audio_index` naming its first audio
    stream. Kdenlive 22.12 takes a bin clip's sound channels from exactly those; under
    `avformat-novalidate` (the file unopened, `audio_index` 0: the picture) it counts none,
    its audio-levels job has nothing to do and the A1 clips show no waveform."""
    for m in plan.media:
        markers = [{"pos": pos, "comment": name, "type": 1}
                   for pos, name in sorted(m.clip_markers.items())]
        _media_service(root, "producer", m, {
            "kdenlive:clipname": _name(m.path), "kdenlive:folderid": -1,
            "kdenlive:id": m.kdenlive_id,
            "kdenlive:markers": json.dumps(markers, ensure_ascii=False)},
            m.channels or plan.channels,
            service="avformat")


def _kdenlive_bin(root: ET.Element, plan: _Plan) -> None:
    """The `main_bin` playlist: Kdenlive reads the document's settings, guides and notes there."""
    guides = [{"comment": mk.name, "pos": mk.pos, "type": KDENLIVE_CATEGORY.get(mk.color, 1)}
              for mk in plan.markers]
    bin_ = ET.SubElement(root, "playlist", id="main_bin")
    for key, value in (
            ("activeTrack", len(plan.audio_tracks)), ("audioChannels", 2),
            ("documentid", _document_id(plan)),
            ("enableproxy", 0), ("groups", _kdenlive_groups(plan)),
            ("guides", json.dumps(guides, ensure_ascii=False, indent=1)),
            ("kdenliveversion", KDENLIVE_VERSION), ("position", 0),
            ("version", KDENLIVE_DOC_VERSION), ("zonein", 0), ("zoneout", plan.length)):
        _prop(bin_, f"kdenlive:docproperties.{key}", value)
    _prop(bin_, "kdenlive:documentnotes", _notes(plan))
    _prop(bin_, "xml_retain", 1)
    for m in plan.media:
        ET.SubElement(bin_, "entry", {"producer": m.key, "in": "0", "out": str(m.length - 1)})


def _kdenlive_black_track(root: ET.Element, total: int) -> None:
    """The `black_track` colour producer Kdenlive expects under every project's tracks."""
    black = ET.SubElement(root, "producer", {"id": "black_track", "in": "0",
                                             "out": str(total - 1)})
    for key, value in (("length", 2147483647), ("eof", "continue"), ("resource", "black"),
                       ("aspect_ratio", 1), ("mlt_service", "color"),
                       ("mlt_image_format", "rgba"), ("set.test_audio", 0)):
        _prop(black, key, value)


def _kdenlive_tracks(root: ET.Element, plan: _Plan) -> int:
    """A tractor of two playlists per track, as Kdenlive saves them; returns the track count.
    MLT's order is Kdenlive's bottom to top: the last audio track, ..., A1, then V1."""
    tracks = [(name, entries, True) for name, entries in reversed(plan.audio_tracks)]
    tracks.append(("Scenes", plan.entries, False))
    for k, (name, entries, audio) in enumerate(tracks):
        playlist = ET.SubElement(root, "playlist", id=f"playlist{2 * k}")
        _playlist_entries(playlist, entries, kdenlive=True)
        ET.SubElement(root, "playlist", id=f"playlist{2 * k + 1}")  # second half (mixes)
        track = ET.SubElement(root, "tractor", {"id": f"tractor{k}", "in": "0",
                                                "out": str(plan.length - 1)})
        if audio:
            _prop(track, "kdenlive:audio_track", 1)
        for key, value in (("kdenlive:track_name", name), ("kdenlive:trackheight", 67),
                           ("kdenlive:timeline_active", 1), ("kdenlive:collapsed", 0),
                           ("kdenlive:thumbs_format", ""), ("kdenlive:audio_rec", "")):
            _prop(track, key, value)
        for half in (2 * k, 2 * k + 1):
            ET.SubElement(track, "track", hide="video" if audio else "audio",
                          producer=f"playlist{half}")
    return len(tracks)


def _kdenlive_project_tractor(root: ET.Element, plan: _Plan, n_tracks: int) -> None:
    """The project tractor stacking the black track and every track: what Kdenlive plays."""
    main = ET.SubElement(root, "tractor", {"id": f"tractor{n_tracks}", "in": "0",
                                           "out": str(plan.length - 1)})
    _prop(main, "kdenlive:projectTractor", 1)
    ET.SubElement(main, "track", producer="black_track")
    for k in range(n_tracks):
        ET.SubElement(main, "track", producer=f"tractor{k}")
    for k in range(len(plan.audio_tracks)):  # each audio track heard over the black track's
        mix = ET.SubElement(main, "transition", id=f"transition{k}")  # silence, as Kdenlive mixes
        for key, value in (("a_track", 0), ("b_track", k + 1), ("mlt_service", "mix"),
                           ("kdenlive_id", "mix"), ("internal_added", 237),
                           ("always_active", 1), ("accepts_blanks", 1), ("sum", 1)):
            _prop(mix, key, value)


def _kdenlive_groups(plan: _Plan) -> str:
    """Each scene's picture (track position = the audio track count) and its sound (the first
    audio track with the same media, range and record frame) as one AV clip: the `AVSplit`
    groups Kdenlive saves for a clip dropped with its audio, so they move together. Sound edited
    apart from its picture stays ungrouped. Leaves name a clip by `track position:record frame`
    (Kdenlive's GroupsModel::toJson); audio track k (A1 = 0) sits at position n - 1 - k."""
    audio = plan.audio_tracks
    if not audio:
        return "[]"
    placed = [_placed(entries) for _, entries in audio]
    groups = []
    for key in _placed(plan.entries):
        k = next((k for k, clips in enumerate(placed) if key in clips), None)
        if k is not None:
            groups.append({"type": "AVSplit", "children": [
                {"data": f"{len(audio)}:{key[0]}", "leaf": "clip", "type": "Leaf"},
                {"data": f"{len(audio) - 1 - k}:{key[0]}", "leaf": "clip", "type": "Leaf"}]})
    return json.dumps(groups, indent=1)


def _placed(entries: list[_Entry]) -> list[tuple[int, str, int, int]]:
    """(record frame, media file, source in, length) of each clip of a track."""
    out, record = [], 0
    for e in entries:
        if e.media is not None:
            out.append((record, e.media.path, e.src_in, e.length))
        record += e.length
    return out


def _clock(frames: int, rate: Fraction) -> str:
    """MLT's clock time HH:MM:SS.mmm (Shotcut's marker times); MLT rounds it back to `frames`."""
    ms = round(Fraction(frames) / rate * 1000)
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def shotcut_xml(timeline: otio.schema.Timeline) -> str:
    """A Shotcut project: a background track and one video track `Scenes` whose clips show
    their scene's name (a chain per clip, captioned, as Shotcut saves clips) and play their
    sound, scene markers as Shotcut markers (name with distance, colour) on the timeline.
    Sound edited apart from the picture gets audio tracks of its own (as Shotcut saves an
    audio track: `shotcut:audio`, video hidden), and the video track is muted."""
    plan = _plan(timeline)
    total = plan.length
    root = ET.Element("mlt", {"LC_NUMERIC": "C", "version": MLT_VERSION, "title": plan.name,
                              "producer": "main_bin"})
    _profile(root, plan)
    bin_ = ET.SubElement(root, "playlist", id="main_bin")
    _prop(bin_, "xml_retain", 1)
    black = ET.SubElement(root, "producer", {"id": "black", "in": "0", "out": str(total - 1)})
    for key, value in (("length", total), ("eof", "pause"), ("resource", 0),
                       ("aspect_ratio", 1), ("mlt_service", "color"),
                       ("mlt_image_format", "rgba"), ("set.test_audio", 0)):
        _prop(black, key, value)
    background = ET.SubElement(root, "playlist", id="background")
    ET.SubElement(background, "entry", {"producer": "black", "in": "0", "out": str(total - 1)})
    tracks = [("Scenes", plan.entries, "shotcut:video"),
              *((name, entries, "shotcut:audio") for name, entries in plan.sound)]
    chains = 0
    for k, (name, entries, kind) in enumerate(tracks):
        ids = [f"chain{chains + n}" for n in range(len(entries))]
        chains += len(entries)
        for key, e in zip(ids, entries):  # one chain per clip, as Shotcut saves its clips
            if e.media is not None:
                _media_service(root, "chain", e.media, {"shotcut:caption": e.name or
                                                        _name(e.media.path)},
                               e.media.channels or plan.channels, key=key)
        playlist = ET.SubElement(root, "playlist", id=f"playlist{k}")
        _prop(playlist, kind, 1)
        _prop(playlist, "shotcut:name", name)
        _playlist_entries(playlist, entries, kdenlive=False, producers=ids)
    _shotcut_tractor(root, plan, len(tracks))
    return _xml(root)


def _shotcut_tractor(root: ET.Element, plan: _Plan, n_tracks: int) -> None:
    """The main tractor: markers, the background, the video track (muted when the audio
    tracks carry the sound), the audio tracks, and a `mix` per track so each is heard."""
    main = ET.SubElement(root, "tractor", {"id": "tractor0", "title": plan.name, "in": "0",
                                           "out": str(plan.length - 1)})
    _prop(main, "shotcut", 1)
    _prop(main, "shotcut:projectAudioChannels", 2)  # stereo mix, mono sound on both sides
    _prop(main, "shotcut:projectFolder", 0)
    if plan.markers:
        holder = ET.SubElement(main, "properties", name="shotcut:markers")
        for i, mk in enumerate(plan.markers):
            one = ET.SubElement(holder, "properties", name=str(i))
            _prop(one, "text", mk.name)
            _prop(one, "start", _clock(mk.pos, plan.rate))
            _prop(one, "end", _clock(mk.pos, plan.rate))
            _prop(one, "color", HEX_COLOR.get(mk.color, "#3daee9"))
    ET.SubElement(main, "track", producer="background")
    for k in range(n_tracks):
        attrib = {"producer": f"playlist{k}"}
        if n_tracks > 1:  # the audio tracks carry the sound: the video track's is muted
            attrib["hide"] = "video" if k else "audio"
        ET.SubElement(main, "track", attrib)
    for k in range(n_tracks):
        mix = ET.SubElement(main, "transition", id=f"transition{k}")
        for key, value in (("a_track", 0), ("b_track", k + 1), ("mlt_service", "mix"),
                           ("always_active", 1), ("sum", 1)):
            _prop(mix, key, value)


# ---------------------------------------------------------------- reader


def _time(value: str | None, rate: Fraction, default: int = 0) -> int:
    """An MLT time value in frames: 123, 00:00:05.125 (clock) or 00:00:05:03 (SMPTE)."""
    if value is None or not value.strip():
        return default
    v = value.strip()
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    parts = v.replace(";", ":").split(":")
    try:
        if len(parts) == 4:  # SMPTE, non-drop at the nominal rate
            h, m, s, f = (int(p) for p in parts)
            return ((h * 60 + m) * 60 + s) * round(rate) + f
        secs = Fraction(0)
        for p in parts:
            secs = secs * 60 + Fraction(p)
        return round(secs * rate)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"not an MLT time: {value!r}") from None


def _props(el: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.text or "" for p in el.findall("property")}


def _profile_rate(root: ET.Element) -> Fraction:
    profile = root.find("profile")
    if profile is None:
        raise ValueError("no <profile>")
    rate = Fraction(int(profile.get("frame_rate_num", "0")),
                    int(profile.get("frame_rate_den", "1") or 1))
    if rate <= 0:
        raise ValueError("profile has no frame rate")
    return rate


def _profile_picture(root: ET.Element, track: otio.schema.Track) -> dict[str, object]:
    """Size, pixel aspect and scan of the profile. MLT profiles say whether media is
    interlaced (`progressive="0"`) but not which field comes first: that is asked of the
    first clip's media, so a project read and written again stays interlaced."""
    profile = root.find("profile")
    if profile is None:
        return {}
    try:
        width, height = int(profile.get("width", "0")), int(profile.get("height", "0"))
        sar = Fraction(int(profile.get("sample_aspect_num", "1")),
                       int(profile.get("sample_aspect_den", "1")))
    except (ValueError, ZeroDivisionError):
        return {}
    order = "progressive"
    if profile.get("progressive") == "0":
        order = _media_field_order(track)
    return picture_metadata(width, height, sar, order)


def _media_field_order(track: otio.schema.Track) -> str:
    """Field order of the first clip's media that can be probed; top first (broadcast's
    usual order) when none can."""
    from scenesem_otio.core.errors import MediaError
    from scenesem_otio.media.probe import probe

    for clip in track.find_clips():
        path = clip_path(clip, local_only=True)
        if path:
            try:
                order = probe(path).field_order
            except MediaError:
                continue
            return order if order != "progressive" else "tff"
    return "tff"


class _Services:
    """The producers, chains, playlists and tractors of an MLT document, by id."""

    def __init__(self, root: ET.Element) -> None:
        self.by_id = {el.get("id"): el for el in root if el.get("id")}

    def playlists(self, el: ET.Element, hidden: str | None = None
                  ) -> list[tuple[ET.Element, str]]:
        """Every playlist under a tractor, with how its track is hidden."""
        if el.tag == "playlist":
            return [(el, hidden or "")]
        out = []
        for tr in el.findall("track"):
            child = self.by_id.get(tr.get("producer"))
            if child is not None and child.tag in ("tractor", "playlist"):
                out += self.playlists(child, tr.get("hide") or hidden)
        return out

    def is_media(self, entry: ET.Element) -> bool:
        service = self.by_id.get(entry.get("producer"))
        return service is not None and "avformat" in _props(service).get("mlt_service", "")


def _entry_clip(el: ET.Element, services: _Services, rate: Fraction
                ) -> tuple[otio.schema.Clip, int] | None:
    """A playlist entry of media -> (clip at the media's timecode, its source in)."""
    fr = float(rate)
    sp = _props(services.by_id[el.get("producer")])
    start0 = int(sp.get("scenesem:start_frame") or 0)
    length = _time(sp.get("length"), rate, 0)
    src_in = _time(el.get("in"), rate, 0)
    src_out = _time(el.get("out"), rate, length - 1)
    n = src_out - src_in + 1
    if n <= 0:
        return None
    resource = sp.get("resource", "")
    url = Path(resource).absolute().as_uri() if resource.startswith("/") or \
        not re.match(r"^\w+:", resource) else resource
    ref = otio.schema.ExternalReference(target_url=url, available_range=TimeRange(
        RationalTime(start0, fr), RationalTime(max(length, src_out + 1), fr)))
    clip = otio.schema.Clip(
        name=_props(el).get("scenesem:name") or Path(resource).name, media_reference=ref,
        source_range=TimeRange(RationalTime(start0 + src_in, fr), RationalTime(n, fr)))
    return clip, start0 + src_in


def _guides(doc: dict[str, str], main: ET.Element, rate: Fraction, path: Path
            ) -> list[tuple[int, str, str]]:
    """Kdenlive guides and Shotcut markers as (record frame, name, OTIO colour)."""
    found: list[tuple[int, str, str]] = []
    try:
        for g in json.loads(doc.get("kdenlive:docproperties.guides") or "[]"):
            color = next((c for c, k in KDENLIVE_CATEGORY.items() if k == g.get("type")), "")
            found.append((int(g["pos"]), str(g.get("comment", "")), color))
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("%s: ignoring unreadable Kdenlive guides", path)
    holder = next((p for p in main.findall("properties")
                   if p.get("name") == "shotcut:markers"), None)
    for one in holder if holder is not None else []:
        mp = _props(one)
        color = next((c for c, h in HEX_COLOR.items()
                      if h.lower() == mp.get("color", "").lower()), "")
        found.append((_time(mp.get("start"), rate), mp.get("text", ""), color))
    return found


Span = tuple[int, int, otio.schema.Clip, int, int]  # record in/out, clip, source in, channels


def _track(playlist: ET.Element, services: _Services, rate: Fraction, name: str,
           kind: str) -> tuple[otio.schema.Track, list[Span]]:
    """A playlist's media entries and blanks as an OTIO track."""
    fr = float(rate)
    track = otio.schema.Track(name=name, kind=kind)
    record = 0
    spans: list[Span] = []
    for el in playlist:
        n = _time(el.get("length"), rate) if el.tag == "blank" else 0
        if n > 0:
            track.append(otio.schema.Gap(source_range=TimeRange(
                RationalTime(0, fr), RationalTime(n, fr))))
            record += n
        made = _entry_clip(el, services, rate) \
            if el.tag == "entry" and services.is_media(el) else None
        if made is not None:
            clip, src = made
            n = round(clip.source_range.duration.value)
            track.append(clip)
            channels = _props(services.by_id[el.get("producer")]).get(
                "scenesem:audio_channels") or "0"
            spans.append((record, record + n, clip, src, int(channels)))
            record += n
    return track, spans


def _sound_playlists(services: _Services, main: ET.Element, video: ET.Element
                     ) -> list[ET.Element]:
    """The audio tracks' playlists (video hidden) with media clips, A1 first: Kdenlive lays
    them below the video, last audio track lowest; Shotcut above it, in order."""
    order = [pl for pl, _ in services.playlists(main)]
    sound = [pl for pl, hide in services.playlists(main) if hide == "video"
             and any(services.is_media(e) for e in pl.findall("entry"))]
    below = [pl for pl in sound if order.index(pl) < order.index(video)]
    return below[::-1] + [pl for pl in sound if pl not in below]


def read_mlt(path: str | Path) -> otio.schema.Timeline:
    """Our .kdenlive/.mlt back to a timeline, or any MLT XML whose main tractor holds playlists
    of media clips: the first video playlist with clips becomes the `Scenes` track."""
    path = Path(path)
    root = ET.parse(path).getroot()
    if root.tag != "mlt":
        raise ValueError("root element is not <mlt>")
    rate = _profile_rate(root)
    fr = float(rate)
    services = _Services(root)
    tractors = [el for el in root if el.tag == "tractor"]
    if not tractors:
        raise ValueError("no <tractor>")
    main = next((t for t in tractors if _props(t).get("shotcut") == "1"), tractors[-1])
    video = [pl for pl, hide in services.playlists(main) if hide not in ("video", "both")
             and any(services.is_media(e) for e in pl.findall("entry"))]
    if not video:
        raise ValueError("no video track with media clips")
    bin_ = services.by_id.get("main_bin")
    timeline = otio.schema.Timeline(name=_props(main).get("title") or root.get("title")
                                    or path.stem)
    track, spans = _track(video[0], services, rate, "Scenes", otio.schema.TrackKind.Video)
    timeline.metadata[NS] = {"fps": f"{rate.numerator}/{rate.denominator}",
                             **_profile_picture(root, track)}
    timeline.tracks.append(track)
    for k, pl in enumerate(_sound_playlists(services, main, video[0])):  # tracks of their own
        audio, sound = _track(pl, services, rate, "Sound" if k == 0 else f"Sound {k + 1}",
                              otio.schema.TrackKind.Audio)
        if sound and sound[0][4]:
            audio.metadata[NS] = {"channels": sound[0][4]}
        timeline.tracks.append(audio)
    muted = dict(services.playlists(main)).get(video[0]) == "audio"
    if len(timeline.tracks) == 1 and spans and spans[0][4] and not muted:  # Shotcut: in clips
        audio, _ = _track(video[0], services, rate, "Sound", otio.schema.TrackKind.Audio)
        audio.metadata[NS] = {"channels": spans[0][4]}
        timeline.tracks.append(audio)
    for pos, name, color in _guides(_props(bin_) if bin_ is not None else {}, main, rate, path):
        for s, e, clip, src, _ in spans:
            if s <= pos < e:
                clip.markers.append(otio.schema.Marker(
                    name=name, color=color or otio.schema.MarkerColor.GREEN,
                    marked_range=TimeRange(RationalTime(src + pos - s, fr), RationalTime(0, fr))))
                break
    if not spans:
        raise ValueError("no media clips on the video track")
    first = spans[0][2].media_reference.available_range
    timeline.global_start_time = first.start_time  # record TC starts at the media's, as we write
    return timeline
