"""Writers for the NLE formats where OTIO's own adapters write files editors reject.

- EDL: otio-cmx3600-adapter writes no `FCM:` line and counts 23.976 without a rate check;
  we write CMX3600 ourselves (TITLE, FCM matching DF/NDF, `;` only for DF, 8-char reels).
- FCP7 XML: otio-fcp-adapter repeats `<rate>` inside one element and leaves `<format/>` empty;
  we post-process its output (one rate per element, a real format, DF/NDF, marker comments).
- FCPXML: otio-fcpx-xml-adapter writes version 1.8 with an empty `frameDuration` and
  asset-clips outside any project; we write FCPXML 1.9 ourselves (library/event/project).

Both describe the media's picture (`picture.py`): archive footage's non-square pixels and field
order as FCP7 names them (`pixelaspectratio`, `anamorphic`, `fielddominance`) and as FCPXML
formats carry them (`paspH`/`paspV`, `fieldOrder`), so the NLE shows it unsqueezed.

Sound (the timeline's audio tracks, `timeline.py`) goes with each picture clip in the form each
NLE links: EDL channel codes (`edl_channels`), FCP7 audio clipitems per channel with `<link>`s
and `<sourcetrack>`, FCPXML assets that declare their audio (asset-clips then play both).
Sound edited apart from its picture (`sound_follows_picture` false: a J/L cut, slipped sound,
music) is written as the audio tracks' own clips: EDL audio events, FCP7 audio clipitems linked
only where they coincide with the picture, FCPXML connected audio-only asset-clips.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote
from xml.sax.saxutils import quoteattr

import opentimelineio as otio
from opentimelineio.opentime import RationalTime

from scenesem_otio.adapters.frames import clip_path, frames, media_start
from scenesem_otio.adapters.picture import Picture, picture_format, picture_metadata
from scenesem_otio.adapters.timeline import (
    NS,
    picture_clips,
    sound_channels,
    sound_facts,
    sound_follows_picture,
)

log = logging.getLogger("scenesem")

RESOLVE_COLORS = {"RED": "Red", "YELLOW": "Yellow", "GREEN": "Green", "BLUE": "Blue",
                  "CYAN": "Cyan", "PURPLE": "Purple", "PINK": "Pink", "ORANGE": "Yellow"}


def rate_info(timeline: otio.schema.Timeline) -> tuple[Fraction, bool]:
    """Exact rate and drop-frame flag, from our metadata or the clips' float rate."""
    meta = timeline.metadata.get(NS, {})
    fps = meta.get("fps")
    if fps:
        rate = Fraction(str(fps))
    else:
        clip = next(iter(timeline.find_clips()), None)
        f = clip.source_range.duration.rate if clip and clip.source_range else 24.0
        rate = Fraction(f).limit_denominator(1001)
    tc = meta.get("start_timecode") or ""
    drop = (";" in tc or bool(meta.get("drop_frame"))) and round(rate) in (30, 60)
    return rate, drop


def timecode(frames: int, rate: Fraction, drop: bool) -> str:
    """SMPTE timecode of a frame count, counted at the nominal rate (24 for 23.976).

    Our timelines are at standard rates (`conform.py`); a timeline from elsewhere at another
    rate gets non-drop HH:MM:SS:FF at its rounded rate rather than OTIO's ValueError.
    """
    try:
        return otio.opentime.to_timecode(RationalTime(frames, float(rate)), float(rate), drop)
    except ValueError:
        nominal = max(1, round(rate))
        sign, frames = ("-" if frames < 0 else ""), abs(frames)
        secs, ff = divmod(frames, nominal)
        mins, ss = divmod(secs, 60)
        hh, mm = divmod(mins, 60)
        return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}:{ff:0{len(str(nominal - 1))}d}"


def _reel(path: str | None) -> str:
    stem = Path(path).stem if path else "AX"
    reel = re.sub(r"[^A-Za-z0-9_]", "", stem).upper()[:8]
    return reel or "AX"


def _ascii(text: str) -> str:
    return text.replace("Δ", "D").encode("ascii", "replace").decode()


def edl_channels(timeline: otio.schema.Timeline) -> str:
    """The CMX 3600 channel field of every event: `AA/V` with stereo (or more) sound, `B` with
    mono, `V` for a silent film.

    CMX 3600 events name video and two audio channels, A (A1) and A2. `AA/V` cuts picture and
    both channels in one event: the form Premiere writes and Resolve, Avid, pycmx and OTIO's
    reader take back as one linked AV clip, so the sound stays cut with its picture. (One event
    per channel would work too, but doubles the list and leaves the link to the reader.) `B`
    (both) is CMX's video + A1. CMX 3600 has no third channel: a film with more channels or
    streams gives the first stream's first two, as these NLEs do when they export an EDL.
    """
    channels = sum(sound_channels(timeline))
    return "AA/V" if channels >= 2 else "B" if channels == 1 else "V"


def write_edl(timeline: otio.schema.Timeline, path: Path, resolve_markers: bool = False) -> None:
    """CMX3600 with an FCM line; scene markers as `* LOC:` lines (or Resolve marker events);
    each event carries the sound with its picture (`edl_channels`), or, when the sound was cut
    apart from the picture, picture `V` events and the audio tracks' own events
    (`_edl_sound_events`)."""
    rate, drop = rate_info(timeline)
    follows = resolve_markers or sound_follows_picture(timeline)
    channel = edl_channels(timeline) if follows else "V"
    fr = float(rate)
    rec0 = frames(timeline.global_start_time, fr) if timeline.global_start_time else 0
    lines = [f"TITLE: {_ascii(timeline.name or 'scenesem')}",
             f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}", ""]
    events: list[tuple[int, list[str]]] = []
    event = 0
    for item in picture_clips(timeline):
        src_in = frames(item.source_range.start_time, fr)
        rec = rec0 + frames(item.range_in_parent().start_time, fr)  # a gap before it kept
        if resolve_markers:
            for m in item.markers:
                event += 1
                at = rec + frames(m.marked_range.start_time, fr) - src_in
                color = RESOLVE_COLORS.get(str(m.color).upper(), "Blue")
                lines.append(f"{event:03d}  001      V     C        {timecode(at, rate, drop)} "
                             f"{timecode(at + 1, rate, drop)} {timecode(at, rate, drop)} "
                             f"{timecode(at + 1, rate, drop)}  ")
                lines.append(f" |C:ResolveColor{color} |M:{_ascii(m.name)} |D:1")
                lines.append("")
            continue
        body = _edl_event(item, channel, rec, rate, drop)
        for m in item.markers:
            at = frames(m.marked_range.start_time, fr)
            body.append(f"* LOC: {timecode(at, rate, drop)} {str(m.color).upper():<7} "
                        f"{_ascii(m.name)}")
        events.append((rec, body))
    if not follows:
        events += _edl_sound_events(timeline, rec0, rate, drop)
    for number, (_, body) in enumerate(sorted(events, key=lambda e: e[0]), start=event + 1):
        lines += [f"{number:03d}  {body[0]}", *body[1:], ""]
    path.write_text("\n".join(lines) + "\n", encoding="ascii", errors="replace")


def _edl_event(item: otio.schema.Clip, channel: str, rec: int, rate: Fraction,
               drop: bool) -> list[str]:
    """One event's lines without its number: reel, channel, source and record in/out, clip
    name and file."""
    fr = float(rate)
    src_in = frames(item.source_range.start_time, fr)
    dur = frames(item.source_range.duration, fr)
    lines = [f"{_reel(clip_path(item)):<8} {channel:<5} C        "
             f"{timecode(src_in, rate, drop)} {timecode(src_in + dur, rate, drop)} "
             f"{timecode(rec, rate, drop)} {timecode(rec + dur, rate, drop)}",
             f"* FROM CLIP NAME: {_ascii(item.name)}"]
    source = clip_path(item)
    if source:
        lines.append(f"* SOURCE FILE: {source}")
    return lines


def _edl_sound_events(timeline: otio.schema.Timeline, rec0: int, rate: Fraction,
                      drop: bool) -> list[tuple[int, list[str]]]:
    """The audio tracks' own clips as audio-only events at their record frames: a lone track
    as `AA` (stereo) or `A` (mono), several as `A`, `A2`, `A3`... one channel per track (CMX
    3600 names two audio channels; OTIO's reader and Resolve take A3, A4 as further tracks).
    A clip of another file names its own reel and `* SOURCE FILE`."""
    channels = sound_channels(timeline)
    lone = len(channels) == 1
    events = []
    for k, item in _sound_clips(timeline):
        code = ("AA" if channels[0] >= 2 else "A") if lone else ("A" if k == 0 else f"A{k + 1}")
        rec = rec0 + frames(item.range_in_parent().start_time, float(rate))
        events.append((rec, _edl_event(item, code, rec, rate, drop)))
    return events


_DF_LOC = re.compile(r"^(\*\s*LOC:\s*)(\d\d):(\d\d):(\d\d);(\d\d)(?=\s|$)", re.MULTILINE)


def edl_df_locators_for_otio(text: str, rate: Fraction) -> str:
    """Rewrite drop-frame `* LOC: 01:00:35;03` lines so OTIO's cmx_3600 reader keeps them.

    Its locator pattern takes only `HH:MM:SS:FF`, read as a non-drop count; a DF locator (';',
    as we, Premiere and Avid write them under `FCM: DROP FRAME`) is dropped. The same frame
    written as the non-drop string of its frame count (01:00:35;03 = frame 108,945 =
    01:00:31:15 at 30) lands on the exact frame. Only for feeding OTIO's reader: our files
    keep the SMPTE ';' form NLEs read.
    """
    if round(rate) not in (30, 60):
        return text
    nominal = round(rate)
    skip = nominal // 15

    def ndf(m: re.Match[str]) -> str:
        hh, mm, ss, ff = (int(m.group(k)) for k in range(2, 6))
        minutes = hh * 60 + mm
        count = (minutes * 60 + ss) * nominal + ff - skip * (minutes - minutes // 10)
        return m.group(1) + timecode(count, rate, drop=False)

    return _DF_LOC.sub(ndf, text)


def write_fcp7_xml(timeline: otio.schema.Timeline) -> str:
    """FCP7 xmeml: otio-fcp-adapter writes the picture, `fix_fcp7_xml` makes it importable and
    adds the sound (it writes audio clips as bare references to the video clipitems)."""
    picture = timeline.deepcopy()
    for track in [t for t in picture.tracks if t.kind == otio.schema.TrackKind.Audio]:
        picture.tracks.remove(track)
    return fix_fcp7_xml(otio.adapters.write_to_string(picture, adapter_name="fcp_xml"),
                        timeline)


def fix_fcp7_xml(xml_text: str, timeline: otio.schema.Timeline) -> str:
    """Make otio-fcp-adapter's xmeml importable: one rate per element, a real format, DF/NDF;
    then the timeline's sound (`_fcp7_sound`)."""
    rate, drop = rate_info(timeline)
    root = ET.fromstring(xml_text)
    for parent in root.iter():
        rates = [c for c in parent if c.tag == "rate"]
        for extra in rates[1:]:
            parent.remove(extra)
    for rate_el in root.iter("rate"):
        ntsc = rate_el.find("ntsc")
        if ntsc is None:
            ntsc = ET.SubElement(rate_el, "ntsc")
        ntsc.text = "TRUE" if rate.denominator == 1001 else "FALSE"
    for disp in root.iter("displayformat"):
        disp.text = "DF" if drop else "NDF"
    _fcp7_picture(root, picture_format(timeline), rate)
    # Timecode strings: the adapter writes them non-drop even under <displayformat>DF.
    for tc in root.iter("timecode"):
        frame, string = tc.find("frame"), tc.find("string")
        if frame is not None and frame.text and string is not None and frame.text.strip().isdigit():
            string.text = timecode(int(frame.text), rate, drop)
    for name in (f.find("name") for f in root.iter("file")):
        if name is not None and name.text:
            name.text = unquote(name.text)  # the adapter writes the URL-quoted file name
    # Marker comments: the adapter drops them; match clipitems to clips in order. Clip marker
    # in/out count from the media's first frame, like the clipitem's in/out (the adapter
    # writes them in timecode frames: past the media's end whenever it has a start TC).
    clips = picture_clips(timeline)
    for item, clipitem in zip(clips, root.iter("clipitem")):
        start0 = media_start(item, float(rate))
        for m, el in zip(item.markers, clipitem.findall("marker")):
            if m.comment and el.find("comment") is None:
                ET.SubElement(el, "comment").text = m.comment
            for key in ("in", "out"):
                sub = el.find(key)
                if sub is not None and sub.text and start0 and \
                        sub.text.strip().lstrip("-").isdigit():
                    sub.text = str(int(sub.text) - start0)
    _fcp7_sound(root, timeline, rate)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n' + \
        ET.tostring(root, encoding="unicode") + "\n"


def _fcp7_picture(root: ET.Element, picture: Picture, rate: Fraction) -> None:
    """The picture format in the sequence's `<format>` (which the adapter leaves empty) and,
    for media that is not square and progressive, in each media file's `<video>` too: rate,
    stored size, then FCP7's anamorphic flag, pixel aspect and field dominance, in the order
    FCP7 and Premiere write them."""
    pixels = None if picture.plain else _fcp7_pixels(picture)
    for fmt in root.iter("format"):
        if len(fmt) == 0:
            _fcp7_characteristics(fmt, picture, rate, pixels)
    if pixels is None:
        return
    for f in [f for f in root.iter("file") if f.find("pathurl") is not None]:
        video = f.find("media/video")
        if video is not None and len(video) == 0:
            _fcp7_characteristics(video, picture, rate, pixels)


def _fcp7_characteristics(parent: ET.Element, picture: Picture, rate: Fraction,
                          pixels: list[tuple[str, str]] | None) -> None:
    sc = ET.SubElement(parent, "samplecharacteristics")
    _fcp7_rate(sc, rate)
    ET.SubElement(sc, "width").text = str(picture.width)
    ET.SubElement(sc, "height").text = str(picture.height)
    for tag, text in pixels or []:
        ET.SubElement(sc, tag).text = text


# FCP7's pixel aspect names (its `pixelaspectratio` values), by SAR: SD under the SARs that
# ITU-R BT.601, MPEG-4/DV and FCP itself give NTSC and PAL pixels, 4:3 and 16:9 (16:9 is the
# same name with `<anamorphic>TRUE`; 9/10 and 6/5 make FCP7's own 720x486 NTSC frame 4:3 and
# 16:9, what `fcp7_picture_metadata` reads its name back as); HD anamorphic by stored size
# (4/3 is both HDV 1440x1080 and DVCPRO HD 960x720).
FCP7_SD_PIXELS = {
    **dict.fromkeys([Fraction(10, 11), Fraction(8, 9), Fraction(9, 10)], ("NTSC-601", False)),
    **dict.fromkeys([Fraction(40, 33), Fraction(32, 27), Fraction(6, 5)], ("NTSC-601", True)),
    **dict.fromkeys([Fraction(12, 11), Fraction(16, 15), Fraction(59, 54)], ("PAL-601", False)),
    **dict.fromkeys([Fraction(16, 11), Fraction(64, 45), Fraction(118, 81)], ("PAL-601", True)),
}
FCP7_HD_PIXELS = {(1440, 1080, Fraction(4, 3)): "HD-(1440x1080)",
                  (1280, 1080, Fraction(3, 2)): "HD-(1280x1080)",
                  (960, 720, Fraction(4, 3)): "HD-(960x720)"}
FCP7_FIELDS = {"progressive": "none", "tff": "upper", "bff": "lower"}


def fcp7_pixel_aspect(picture: Picture) -> tuple[str, bool] | None:
    """(FCP7 `pixelaspectratio` name, anamorphic) of the picture; None where FCP7 has no name
    for its pixels."""
    if picture.sample_aspect == 1:
        return "square", False
    hd = FCP7_HD_PIXELS.get((picture.width, picture.height, picture.sample_aspect))
    return (hd, False) if hd else FCP7_SD_PIXELS.get(picture.sample_aspect)


def _fcp7_pixels(picture: Picture) -> list[tuple[str, str]]:
    """`<anamorphic>`, `<pixelaspectratio>`, `<fielddominance>` (tag, text); pixels FCP7
    cannot name are written square, with one warning that the NLE will show them squeezed."""
    named = fcp7_pixel_aspect(picture)
    if named is None:
        log.warning("FCP7 XML: pixel aspect %s of the %dx%d media has no Final Cut Pro 7 "
                    "name; written as square, so the NLE will show the picture squeezed "
                    "(set the clips' pixel aspect by hand)", picture.sample_aspect,
                    picture.width, picture.height)
        named = ("square", False)
    return [("anamorphic", "TRUE" if named[1] else "FALSE"), ("pixelaspectratio", named[0]),
            ("fielddominance", FCP7_FIELDS[picture.field_order])]


def _fcp7_rate(parent: ET.Element, rate: Fraction) -> None:
    el = ET.SubElement(parent, "rate")
    ET.SubElement(el, "timebase").text = str(round(rate))
    ET.SubElement(el, "ntsc").text = "TRUE" if rate.denominator == 1001 else "FALSE"


def _fcp7_sound(root: ET.Element, timeline: otio.schema.Timeline, rate: Fraction) -> None:
    """Audio clipitems under every video clipitem, one track per channel as FCP7 and Premiere
    import a file (stereo: A1 = left, A2 = right, `<sourcetrack>` trackindex 1 and 2; a second
    stream's channels follow as 3, 4...), each linked (`<link>`) to its picture and the other
    channels; the file's `<audio>` says its rate and channels. A silent film: no audio."""
    streams = sound_facts(timeline)
    if not sound_follows_picture(timeline):
        _fcp7_own_sound(root, timeline, rate, streams)
        return
    _fcp7_file_audio(root, streams)
    seq_media = _fcp7_sequence_media(root)
    video = seq_media.find("video") if seq_media is not None else None
    if not streams or seq_media is None or video is None:
        for media in root.iter("media"):  # no empty `<audio/>` for a silent film
            for a in [a for a in media.findall("audio") if len(a) == 0]:
                media.remove(a)
        return
    v_items = [c for t in video.findall("track") for c in t.findall("clipitem")]
    seq_audio = _fcp7_sequence_audio(seq_media, streams)
    n_channels = sum(s["channels"] for s in streams)
    groups: list[list[tuple[ET.Element, str, int, int]]] = [
        [(v, "video", 1, j + 1)] for j, v in enumerate(v_items)]
    for channel in range(1, n_channels + 1):
        track = ET.SubElement(seq_audio, "track")
        for j, v in enumerate(v_items):
            item = _fcp7_audio_clipitem(track, v, channel, j + 1, rate)
            groups[j].append((item, "audio", channel, j + 1))
    _fcp7_link(groups)


def _fcp7_own_sound(root: ET.Element, timeline: otio.schema.Timeline, rate: Fraction,
                    streams: list[dict]) -> None:
    """Sound cut apart from its picture: each audio track's own clips, one sequence track per
    channel, at their own start/end and in/out; a clip of a file no picture clip plays gets its
    own `<file>` with its `<audio>`. `<link>` joins only clipitems that coincide (same file,
    in/out and start: a picture and its sound, the channels of one clip)."""
    seq_media = _fcp7_sequence_media(root)
    if seq_media is None:
        return
    files = _fcp7_files_by_path(root)
    uses = _streams_by_media(timeline, clip_path)
    for path, file_el in files.items():
        _fcp7_set_file_audio(file_el, [streams[k] for k in uses.get(path, [])])
    fr = float(rate)
    groups: dict[tuple, list[tuple[ET.Element, str, int, int]]] = {}
    video = seq_media.find("video")
    v_items = [c for t in video.findall("track") for c in t.findall("clipitem")] \
        if video is not None else []
    for j, (item, v) in enumerate(zip(picture_clips(timeline), v_items)):
        groups.setdefault(_fcp7_key(item, fr), []).append((v, "video", 1, j + 1))
    seq_audio = _fcp7_sequence_audio(seq_media, streams)
    track_index = 0
    for k, track in enumerate(timeline.audio_tracks()):
        clips = [c for c in track.find_clips(shallow_search=True) if c.source_range is not None]
        for channel in range(1, streams[k]["channels"] + 1):
            track_index += 1
            seq_track = ET.SubElement(seq_audio, "track")
            for j, item in enumerate(clips):
                path = clip_path(item)
                before = sum(streams[s]["channels"] for s in uses.get(path, []) if s < k)
                el = _fcp7_own_clipitem(seq_track, item, files, rate,
                                        (track_index, j + 1, before + channel), streams[k])
                groups.setdefault(_fcp7_key(item, fr), []).append(
                    (el, "audio", track_index, j + 1))
    _fcp7_link([g for g in groups.values() if len(g) > 1])


def _fcp7_key(item: otio.schema.Clip, fr: float) -> tuple:
    """What makes two clipitems one linked clip: file, source frames and record frame."""
    return (clip_path(item), frames(item.source_range.start_time, fr),
            frames(item.source_range.duration, fr), frames(item.range_in_parent().start_time, fr))


def _fcp7_files_by_path(root: ET.Element) -> dict[str | None, ET.Element]:
    """The adapter's `<file>` definitions (those with a pathurl) by local path."""
    out: dict[str | None, ET.Element] = {}
    for f in root.iter("file"):
        url = f.findtext("pathurl")
        if url:
            out.setdefault(unquote(url.removeprefix("file://")), f)
    return out


def _streams_by_media(timeline: otio.schema.Timeline,
                      media_of: Callable[[otio.schema.Clip], str | None]
                      ) -> dict[str | None, list[int]]:
    """Media (as `media_of` names it) -> the audio tracks (streams) that play it, in track
    order: FCP7 lists them in a file's `<audio>` and counts `<sourcetrack>` channels across
    them; FCPXML declares them as an asset's `audioSources`."""
    uses: dict[str | None, list[int]] = {}
    for k, item in _sound_clips(timeline):
        media = media_of(item)
        if k not in uses.setdefault(media, []):
            uses[media].append(k)
    return uses


def _fcp7_set_file_audio(file_el: ET.Element, streams: list[dict]) -> None:
    """A `<file>`'s `<media><audio>`: one per stream it holds, none for a file played silent."""
    media = file_el.find("media")
    if media is None:
        media = ET.SubElement(file_el, "media")
    for a in media.findall("audio"):
        media.remove(a)
    for stream in streams:
        _fcp7_stream_audio(media, stream)


def _fcp7_stream_audio(media: ET.Element, stream: dict) -> None:
    """One stream as a file's `<audio>`: 16-bit samples at its rate, its channel count."""
    audio = ET.SubElement(media, "audio")
    sc = ET.SubElement(audio, "samplecharacteristics")
    ET.SubElement(sc, "depth").text = "16"
    ET.SubElement(sc, "samplerate").text = str(stream["sample_rate"])
    ET.SubElement(audio, "channelcount").text = str(stream["channels"])


def _fcp7_new_file(item: otio.schema.Clip, n: int, rate: Fraction, stream: dict) -> ET.Element:
    """A `<file>` for media only the sound plays (a music file): path, length, start TC, audio."""
    fr = float(rate)
    path = clip_path(item) or ""
    file_el = ET.Element("file", id=f"file-a{n}")
    ET.SubElement(file_el, "name").text = Path(path).name if path else item.name
    url = getattr(item.media_reference, "target_url", None) or ""
    ET.SubElement(file_el, "pathurl").text = url
    _fcp7_rate(file_el, rate)
    avail = getattr(item.media_reference, "available_range", None)
    start = frames(avail.start_time, fr) if avail is not None else 0
    end = frames(avail.end_time_exclusive(), fr) if avail is not None else \
        frames(item.source_range.end_time_exclusive(), fr)
    ET.SubElement(file_el, "duration").text = str(end - start)
    tc = ET.SubElement(file_el, "timecode")
    _fcp7_rate(tc, rate)
    ET.SubElement(tc, "string").text = timecode(start, rate, drop=False)
    ET.SubElement(tc, "frame").text = str(start)
    ET.SubElement(tc, "displayformat").text = "NDF"
    _fcp7_set_file_audio(file_el, [stream])
    return file_el


def _fcp7_own_clipitem(seq_track: ET.Element, item: otio.schema.Clip,
                       files: dict[str | None, ET.Element], rate: Fraction,
                       where: tuple[int, int, int], stream: dict) -> ET.Element:
    """One channel of an audio track's clip at its own frames; `where` = (sequence audio
    track, clip index, the file's channel for `<sourcetrack>`)."""
    fr = float(rate)
    track_index, clip_index, file_channel = where
    start0 = media_start(item, fr)
    src_in = frames(item.source_range.start_time, fr) - start0
    dur = frames(item.source_range.duration, fr)
    rec = frames(item.range_in_parent().start_time, fr)
    el = ET.SubElement(seq_track, "clipitem", id=f"clipitem-a{track_index}-{clip_index}")
    ET.SubElement(el, "name").text = item.name
    ET.SubElement(el, "duration").text = str(dur)
    _fcp7_rate(el, rate)
    for key, value in (("start", rec), ("end", rec + dur), ("in", src_in),
                       ("out", src_in + dur)):
        ET.SubElement(el, key).text = str(value)
    path = clip_path(item)
    if path in files:
        ET.SubElement(el, "file", id=files[path].get("id", ""))
    else:
        files[path] = _fcp7_new_file(item, len(files) + 1, rate, stream)
        el.append(files[path])
    source = ET.SubElement(el, "sourcetrack")
    ET.SubElement(source, "mediatype").text = "audio"
    ET.SubElement(source, "trackindex").text = str(file_channel)
    return el


def _fcp7_file_audio(root: ET.Element, streams: list[dict]) -> None:
    """Each media file's `<audio>` per stream: the adapter leaves it empty, FCP7 needs the
    rate and channel count to import the file's sound."""
    for f in [f for f in root.iter("file") if f.find("pathurl") is not None]:
        media = f.find("media")
        if media is None:
            continue
        for a in [a for a in media.findall("audio") if len(a) == 0]:
            media.remove(a)
        for stream in streams:
            _fcp7_stream_audio(media, stream)


def _fcp7_sequence_media(root: ET.Element) -> ET.Element | None:
    """The sequence's `<media>` (the project's first sequence, else any): where its tracks are."""
    sequence = root.find("project/children/sequence")
    if sequence is None:
        sequence = next(root.iter("sequence"), None)
    return sequence.find("media") if sequence is not None else None


def _fcp7_sequence_audio(seq_media: ET.Element, streams: list[dict]) -> ET.Element:
    """The sequence's `<audio>`, emptied and given its output channels and format, ready for
    the audio tracks (the adapter's are bare references FCP7 cannot read)."""
    seq_audio = seq_media.find("audio")
    if seq_audio is None:
        seq_audio = ET.SubElement(seq_media, "audio")
    for child in list(seq_audio):
        seq_audio.remove(child)
    n_channels = sum(s["channels"] for s in streams)
    ET.SubElement(seq_audio, "numOutputChannels").text = str(min(n_channels, 2) or 2)
    fmt = ET.SubElement(ET.SubElement(seq_audio, "format"), "samplecharacteristics")
    ET.SubElement(fmt, "depth").text = "16"
    ET.SubElement(fmt, "samplerate").text = str(streams[0]["sample_rate"])
    return seq_audio


def _fcp7_audio_clipitem(track: ET.Element, v: ET.Element, channel: int, clip_index: int,
                         rate: Fraction) -> ET.Element:
    """One channel of video clipitem `v`'s sound, at its frames and from its file: the
    `<sourcetrack>` trackindex picks the file's channel."""
    item = ET.SubElement(track, "clipitem", id=f"clipitem-a{channel}-{clip_index}")
    ET.SubElement(item, "name").text = v.findtext("name") or ""
    ET.SubElement(item, "duration").text = v.findtext("duration") or ""
    _fcp7_rate(item, rate)
    for key in ("start", "end", "in", "out"):
        ET.SubElement(item, key).text = v.findtext(key) or ""
    file_el = v.find("file")
    ET.SubElement(item, "file", id=file_el.get("id", "") if file_el is not None else "")
    source = ET.SubElement(item, "sourcetrack")
    ET.SubElement(source, "mediatype").text = "audio"
    ET.SubElement(source, "trackindex").text = str(channel)
    return item


def _fcp7_link(groups: list[list[tuple[ET.Element, str, int, int]]]) -> None:
    """A `<link>` from every member of a group to every member (itself included), as FCP7
    writes a clip's picture and channels so they move together."""
    for members in groups:
        for el, _, _, _ in members:
            for other, kind, track_index, clip_index in members:
                link = ET.SubElement(el, "link")
                ET.SubElement(link, "linkclipref").text = other.get("id")
                ET.SubElement(link, "mediatype").text = kind
                ET.SubElement(link, "trackindex").text = str(track_index)
                ET.SubElement(link, "clipindex").text = str(clip_index)
                if kind == "audio":
                    ET.SubElement(link, "groupindex").text = "1"


def fcp7_markers_to_source(timeline: otio.schema.Timeline) -> None:
    """After otio-fcp-adapter reads xmeml: clip markers from media-relative frames (as NLEs
    write them and the adapter leaves them) to the clip's source time, like its source_range."""
    for item in timeline.find_clips():
        avail = getattr(item.media_reference, "available_range", None)
        if avail is None or not avail.start_time.value:
            continue
        for m in item.markers:
            r = m.marked_range
            m.marked_range = otio.opentime.TimeRange(
                r.start_time + avail.start_time.rescaled_to(r.start_time.rate), r.duration)


def _secs(frames: int, rate: Fraction) -> str:
    """FCPXML rational seconds, e.g. 1001/24000s; whole seconds as 5s."""
    value = Fraction(frames) / rate
    if value.denominator == 1:
        return f"{value.numerator}s"
    return f"{value.numerator}/{value.denominator}s"


_FCPXML_AUDIO_RATES = {32000: "32k", 44100: "44.1k", 48000: "48k", 88200: "88.2k",
                       96000: "96k", 176400: "176.4k", 192000: "192k"}


def _fcpxml_audio(timeline: otio.schema.Timeline) -> tuple[str, str]:
    """(asset attributes, sequence attributes) for the sound; empty strings for silence.

    Every audio stream is one of the asset's `audioSources` (Final Cut shows each as a
    component of the clip); `audioChannels` is the first stream's count, as FCP writes it. An
    asset-clip of an asset with `hasVideo` and `hasAudio` plays both, linked.
    """
    streams = sound_facts(timeline)
    if not streams:
        return "", ""
    channels, sample_rate = streams[0]["channels"], streams[0]["sample_rate"]
    layout = "mono" if channels == 1 else "stereo" if channels == 2 else "surround"
    seq_rate = _FCPXML_AUDIO_RATES.get(sample_rate, "48k")
    return (f' hasAudio="1" audioSources="{len(streams)}" audioChannels="{channels}" '
            f'audioRate="{sample_rate}"', f' audioLayout="{layout}" audioRate="{seq_rate}"')


FCPXML_FIELDS = {"tff": "upper first", "bff": "lower first"}


def _fcpxml_format(timeline: otio.schema.Timeline, rate: Fraction) -> str:
    """The sequence's and assets' `<format>`: frame duration and stored size, and for archive
    media its pixel aspect (`paspH`/`paspV`) and `fieldOrder`. Such a format has no `name`
    (optional in the DTD), as Final Cut exports its custom formats: the attributes say it all
    (FCPXML 1.7+ reads them over any preset name), where a preset name would claim more,
    a progressive scan (`...p25`) or a DV/601 variant the file need not be."""
    picture = picture_format(timeline)
    size = f'width="{picture.width}" height="{picture.height}"'
    if picture.plain:
        return (f'    <format id="r1" name="FFVideoFormat{picture.height}p'
                f'{round(float(rate) * 100)}" frameDuration="{_secs(1, rate)}" {size}/>')
    fields = FCPXML_FIELDS.get(picture.field_order)
    field_order = f' fieldOrder="{fields}"' if fields else ""
    sar = picture.sample_aspect
    pasp = f' paspH="{sar.numerator}" paspV="{sar.denominator}"' if sar != 1 else ""
    return f'    <format id="r1" frameDuration="{_secs(1, rate)}"{field_order} {size}{pasp}/>'


def write_fcpxml(timeline: otio.schema.Timeline, path: Path) -> None:
    """FCPXML 1.9: library/event/project/sequence/spine of asset-clips with markers; assets
    declare the sound so each clip plays picture and sound together (`_fcpxml_audio`), or,
    when the sound was cut apart from the picture, the audio tracks' clips are connected
    audio-only clips under the picture (`_fcpxml_connected`)."""
    rate, drop = rate_info(timeline)
    fr = float(rate)
    tc_format = "DF" if drop else "NDF"
    clips = picture_clips(timeline)
    asset_audio, sequence_audio = _fcpxml_audio(timeline)
    sounds = [] if sound_follows_picture(timeline) else _sound_clips(timeline)
    assets = _fcpxml_assets(clips + [c for _, c in sounds], fr)
    audio_of = {url: asset_audio for url in assets} if not sounds else _fcpxml_asset_audio(
        timeline, list(assets))
    pictured = {_asset_url(c) for c in clips}
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<!DOCTYPE fcpxml>", "",
           '<fcpxml version="1.9">', "  <resources>", _fcpxml_format(timeline, rate)]
    for url, (rid, a_start, a_dur) in assets.items():
        name = Path(unquote(url)).stem if url else "media"  # "My Film", not "My%20Film"
        video = ' hasVideo="1" format="r1"' if url in pictured else ""
        out.append(f'    <asset id="{rid}" name={quoteattr(name)} start="{_secs(a_start, rate)}" '
                   f'duration="{_secs(a_dur, rate)}"{video}{audio_of[url]}>')
        out.append(f'      <media-rep kind="original-media" src={quoteattr(url)}/>')
        out.append("    </asset>")
    start_tc = frames(timeline.global_start_time, fr) \
        if timeline.global_start_time else 0
    total = max((_record(c, fr) + frames(c.source_range.duration, fr)
                 for c in [*clips, *(c for _, c in sounds)]), default=0)
    segments = _spine_segments(clips, fr, total)
    name = quoteattr(timeline.name or "scenesem")
    out += ["  </resources>", "  <library>", '    <event name="scenesem">',
            f"      <project name={name}>",
            f'        <sequence format="r1" duration="{_secs(total, rate)}" '
            f'tcStart="{_secs(start_tc, rate)}" tcFormat="{tc_format}"{sequence_audio}>',
            "          <spine>"]
    connected = _fcpxml_connected(segments, sounds, assets, rate, tc_format) if sounds else None
    out += _fcpxml_spine(segments, assets, start_tc, rate, tc_format, connected)
    out += ["          </spine>", "        </sequence>", "      </project>", "    </event>",
            "  </library>", "</fcpxml>", ""]
    path.write_text("\n".join(out), encoding="utf-8")


def _sound_clips(timeline: otio.schema.Timeline) -> list[tuple[int, otio.schema.Clip]]:
    """(audio track index, clip) of every audio track's clips, in track order."""
    return [(k, c) for k, track in enumerate(timeline.audio_tracks())
            for c in track.find_clips(shallow_search=True) if c.source_range is not None]


def _fcpxml_asset_audio(timeline: otio.schema.Timeline, urls: list[str]) -> dict[str, str]:
    """url -> the asset's audio attributes: the streams (audio tracks) that play it; none for
    a file whose sound no audio track plays."""
    streams = sound_facts(timeline)
    uses = _streams_by_media(timeline, _asset_url)
    out = {}
    for url in urls:
        ks = uses.get(url, [])
        first = streams[ks[0]] if ks else {}
        out[url] = (f' hasAudio="1" audioSources="{len(ks)}" audioChannels='
                    f'"{first["channels"]}" audioRate="{first["sample_rate"]}"') if ks else ""
    return out


def _spine_segments(clips: list[otio.schema.Clip], fr: float, end: int
                    ) -> list[tuple[int, int, otio.schema.Clip | None]]:
    """(record frame, duration, clip or None for a gap) of every spine element covering
    [0, `end`): gaps where the picture track has none, and a gap after the last picture clip
    when sound runs on past it (a connected clip needs a spine element at its first frame)."""
    out: list[tuple[int, int, otio.schema.Clip | None]] = []
    at = 0
    for item in clips:
        rec = _record(item, fr)
        if rec > at:
            out.append((at, rec - at, None))
        dur = frames(item.source_range.duration, fr)
        out.append((rec, dur, item))
        at = rec + dur
    if end > at:
        out.append((at, end - at, None))
    return out


def _fcpxml_connected(segments: list[tuple[int, int, otio.schema.Clip | None]],
                      sounds: list[tuple[int, otio.schema.Clip]],
                      assets: dict[str, tuple[str, int, int]], rate: Fraction,
                      tc_format: str) -> list[list[str]]:
    """Per spine element, the audio-only asset-clips connected to it (`lane` -1 for the first
    audio track, -2 for the second...; `srcEnable="audio"`), anchored to the clip or gap
    playing at their first frame, their `offset` in that element's own time (a clip's source
    time; a gap's starts at 0), as FCPXML places connected clips."""
    fr = float(rate)
    out: list[list[str]] = [[] for _ in segments]
    for k, item in sounds:
        rec = frames(item.range_in_parent().start_time, fr)
        j = max([i for i, (s, _, _) in enumerate(segments) if s <= rec] or [0])
        seg_rec, _, parent = segments[j]
        own = frames(parent.source_range.start_time, fr) if parent is not None else 0
        rid = assets[_asset_url(item)][0]
        src = frames(item.source_range.start_time, fr)
        dur = frames(item.source_range.duration, fr)
        out[j].append(f'              <asset-clip ref="{rid}" lane="{-(k + 1)}" '
                      f'name={quoteattr(item.name)} '
                      f'offset="{_secs(own + rec - seg_rec, rate)}" '
                      f'start="{_secs(src, rate)}" duration="{_secs(dur, rate)}" '
                      f'srcEnable="audio" tcFormat="{tc_format}"/>')
    return out


def _asset_url(item: otio.schema.Clip) -> str:
    """The media URL a clip plays ("" for none): what FCPXML assets are keyed by."""
    return getattr(item.media_reference, "target_url", None) or ""


def _fcpxml_assets(clips: list[otio.schema.Clip], fr: float) -> dict[str, tuple[str, int, int]]:
    """url -> (resource id, start, duration in frames), one asset per media file in clip order:
    FCPXML declares each file once and its clips refer to it."""
    assets: dict[str, tuple[str, int, int]] = {}
    for item in clips:
        url = _asset_url(item)
        if url not in assets:
            avail = getattr(item.media_reference, "available_range", None)
            if avail is not None:
                a_start = frames(avail.start_time, fr)
                a_dur = frames(avail.duration, fr)
            else:
                a_start = frames(item.source_range.start_time, fr)
                a_dur = frames(item.source_range.end_time_exclusive(), fr) \
                    - a_start
            assets[url] = (f"r{len(assets) + 2}", a_start, a_dur)
    return assets


def _fcpxml_spine(segments: list[tuple[int, int, otio.schema.Clip | None]],
                  assets: dict[str, tuple[str, int, int]], start_tc: int, rate: Fraction,
                  tc_format: str, connected: list[list[str]] | None = None) -> list[str]:
    """The spine's asset-clips at their record frames from the sequence's start timecode, a
    `<gap>` where the picture track has one (the spine is a sequence: FCP reads a clip's place
    from what precedes it), each clip with its markers. With `connected` sound (cut apart
    from the picture) the picture clips play their video only (`srcEnable="video"`) and
    clips and gaps hold their connected audio clips, before the markers as the DTD orders."""
    fr = float(rate)
    frame_dur = _secs(1, rate)
    out: list[str] = []
    for j, (rec, dur, item) in enumerate(segments):
        held = connected[j] if connected is not None else []
        place = f'offset="{_secs(start_tc + rec, rate)}" duration="{_secs(dur, rate)}"'
        if item is None:
            out += [f'            <gap name="Gap" {place}>', *held, "            </gap>"] \
                if held else [f'            <gap name="Gap" {place}/>']
            continue
        rid = assets[_asset_url(item)][0]
        src = frames(item.source_range.start_time, fr)
        video_only = ' srcEnable="video"' if connected is not None else ""
        out.append(f'            <asset-clip ref="{rid}" name={quoteattr(item.name)} '
                   f'offset="{_secs(start_tc + rec, rate)}" start="{_secs(src, rate)}" '
                   f'duration="{_secs(dur, rate)}" format="r1" tcFormat="{tc_format}"'
                   f'{video_only}>')
        out += held
        for m in item.markers:
            at = frames(m.marked_range.start_time, fr)
            out.append(f'              <marker start="{_secs(at, rate)}" '
                       f'duration="{frame_dur}" value={quoteattr(m.name)} '
                       f'note={quoteattr(m.comment or "")}/>')
        out.append("            </asset-clip>")
    return out


def _record(item: otio.schema.Clip, fr: float) -> int:
    """A clip's record frame in its track, from the track's start (gaps before it counted)."""
    return frames(item.range_in_parent().start_time, fr)


def _fcpxml_secs(text: str | None) -> Fraction:
    """FCPXML rational seconds (`1001/24000s`, `5s`) as a Fraction; 0 when absent."""
    if not text:
        return Fraction(0)
    return Fraction(text.rstrip("s"))


def _fcpxml_picture(fmt: ET.Element | None) -> dict[str, object]:
    """Size, pixel aspect (`paspH`/`paspV`) and field order of a `<format>`."""
    if fmt is None:
        return {}
    fields = {v: k for k, v in FCPXML_FIELDS.items()}
    try:
        sar = Fraction(int(fmt.get("paspH", "1")), int(fmt.get("paspV", "1")))
        return picture_metadata(int(fmt.get("width", "0")), int(fmt.get("height", "0")), sar,
                                fields.get(fmt.get("fieldOrder", ""), "progressive"))
    except (ValueError, ZeroDivisionError):
        return {}


def fcp7_picture_metadata(path: Path) -> dict[str, object]:
    """Size, pixel aspect and field order of an FCP7 sequence (OTIO's reader keeps none).
    A named pixel aspect is read as the SAR that gives its frame 4:3, or 16:9 when
    anamorphic or HD (the names' meaning: 720x576 PAL-601 anamorphic is 64/45)."""
    try:
        sc = ET.parse(path).getroot().find(".//sequence/media/video/format/samplecharacteristics")
    except ET.ParseError:
        return {}
    if sc is None:
        return {}
    try:
        width, height = int(sc.findtext("width", "0")), int(sc.findtext("height", "0"))
    except ValueError:
        return {}
    name = sc.findtext("pixelaspectratio", "square").strip()
    wide = sc.findtext("anamorphic", "FALSE").strip().upper() == "TRUE" or name.startswith("HD")
    sar = Fraction(1)
    if name != "square" and width > 0:
        sar = (Fraction(16, 9) if wide else Fraction(4, 3)) * height / width
    fields = {v: k for k, v in FCP7_FIELDS.items()}
    return picture_metadata(width, height, sar,
                            fields.get(sc.findtext("fielddominance", "none").strip(),
                                       "progressive"))


def read_fcpxml(path: Path) -> otio.schema.Timeline:
    """Read FCPXML asset-clips/clips on the spine (ours and simple NLE exports), and audio
    clips connected below them (`lane` < 0) as audio tracks at their record frames."""
    root = ET.parse(path).getroot()
    if root.tag != "fcpxml":
        raise ValueError("root element is not <fcpxml>")
    formats = {f.get("id"): f for f in root.iter("format")}
    assets = {a.get("id"): a for a in root.iter("asset")}
    secs = _fcpxml_secs
    sequence = next(root.iter("sequence"), None)
    if sequence is None:
        raise ValueError("no <sequence>")
    fmt = formats.get(sequence.get("format"))
    frame_dur = secs(fmt.get("frameDuration")) if fmt is not None else Fraction(0)
    if frame_dur <= 0:
        raise ValueError("sequence format has no frameDuration")
    rate = 1 / frame_dur
    fr = float(rate)
    project = next(root.iter("project"), None)
    timeline = otio.schema.Timeline(
        name=(project.get("name") if project is not None else None) or path.stem)
    timeline.global_start_time = RationalTime(round(secs(sequence.get("tcStart")) * rate), fr)
    timeline.metadata[NS] = {"fps": f"{rate.numerator}/{rate.denominator}",
                             **_fcpxml_picture(fmt)}
    if sequence.get("tcFormat") == "DF":
        timeline.metadata[NS]["drop_frame"] = True
    track = otio.schema.Track(name="Scenes", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    sound: list[otio.schema.Track] = []
    lanes: dict[int, list[tuple[int, otio.schema.Clip, ET.Element | None]]] = {}
    spine = sequence.find("spine")
    rec = 0
    for el in list(spine) if spine is not None else []:
        if el.tag == "gap":  # empty picture (and the sound under it) for its duration
            n = round(secs(el.get("duration")) * rate)
            for gapped in (track, *sound):
                gapped.append(otio.schema.Gap(duration=RationalTime(n, fr)))
            _fcpxml_connected_sound(el, assets, rate, rec, lanes)
            rec += n
            continue
        if el.tag not in ("asset-clip", "clip", "video"):
            continue
        item, asset = _fcpxml_clip(el, assets, rate)
        for m in el.findall("marker"):
            item.markers.append(otio.schema.Marker(
                name=m.get("value") or "", comment=m.get("note") or "",
                marked_range=otio.opentime.TimeRange(
                    RationalTime(round(secs(m.get("start")) * rate), fr), RationalTime(0, fr))))
        track.append(item)
        if asset is not None and asset.get("hasAudio") == "1" and \
                el.get("srcEnable") != "video":
            _fcpxml_sound(sound, timeline, asset, item)
        _fcpxml_connected_sound(el, assets, rate, rec, lanes)
        rec += frames(item.source_range.duration, fr)
    _fcpxml_lane_tracks(timeline, lanes, fr)
    return timeline


def _fcpxml_clip(el: ET.Element, assets: dict[str | None, ET.Element], rate: Fraction
                 ) -> tuple[otio.schema.Clip, ET.Element | None]:
    """An asset-clip/clip element as a clip of its asset's media (start and duration), and
    the asset."""
    fr, secs = float(rate), _fcpxml_secs
    ref_id = el.get("ref") or next((v.get("ref") for v in el.iter("video")), None) or \
        next((v.get("ref") for v in el.iter("audio")), None)
    asset = assets.get(ref_id)
    start = round(secs(el.get("start")) * rate)
    dur = round(secs(el.get("duration")) * rate)
    ref: otio.core.MediaReference = otio.schema.MissingReference()
    if asset is not None:
        rep = asset.find("media-rep")
        src = rep.get("src") if rep is not None else asset.get("src")
        avail = otio.opentime.TimeRange(
            RationalTime(round(secs(asset.get("start")) * rate), fr),
            RationalTime(round(secs(asset.get("duration")) * rate), fr))
        ref = otio.schema.ExternalReference(target_url=src or "", available_range=avail)
    item = otio.schema.Clip(
        name=el.get("name") or "", media_reference=ref,
        source_range=otio.opentime.TimeRange(RationalTime(start, fr), RationalTime(dur, fr)))
    return item, asset


def _fcpxml_connected_sound(parent: ET.Element, assets: dict[str | None, ET.Element],
                            rate: Fraction, rec: int,
                            lanes: dict[int, list[tuple[int, otio.schema.Clip,
                                                        ET.Element | None]]]) -> None:
    """Audio clips connected below a spine clip (`lane` < 0: `srcEnable="audio"`, an
    `<audio>` or an asset without video), each at its record frame: the spine clip's (`rec`)
    plus its offset past the spine clip's start, the parent's source time it is placed in."""
    parent_start = round(_fcpxml_secs(parent.get("start")) * rate)
    for child in parent:
        lane = int(child.get("lane") or 0)
        if lane >= 0 or child.tag not in ("asset-clip", "clip", "audio"):
            continue
        item, asset = _fcpxml_clip(child, assets, rate)
        audio_only = child.tag == "audio" or child.get("srcEnable") == "audio" or \
            (asset is not None and asset.get("hasVideo") != "1")
        if audio_only:
            at = rec + round(_fcpxml_secs(child.get("offset")) * rate) - parent_start
            lanes.setdefault(-lane, []).append((at, item, asset))


def _fcpxml_lane_tracks(timeline: otio.schema.Timeline,
                        lanes: dict[int, list[tuple[int, otio.schema.Clip, ET.Element | None]]],
                        fr: float) -> None:
    """Connected audio lanes as audio tracks (lane -1 first), clips at their record frames
    with gaps between; the track's channels and sample rate from its first clip's asset."""
    for lane in sorted(lanes):
        k = len(list(timeline.audio_tracks()))
        track = otio.schema.Track(name="Sound" if k == 0 else f"Sound {k + 1}",
                                  kind=otio.schema.TrackKind.Audio)
        at = 0
        for rec, item, asset in sorted(lanes[lane], key=lambda x: x[0]):
            if not track.metadata.get(NS) and asset is not None:
                track.metadata[NS] = {"channels": int(asset.get("audioChannels") or 2),
                                      "sample_rate": int(asset.get("audioRate") or 48000)}
            if rec > at:
                track.append(otio.schema.Gap(duration=RationalTime(rec - at, fr)))
            track.append(item)
            at = max(at, rec) + frames(item.source_range.duration, fr)
        timeline.tracks.append(track)


def _fcpxml_sound(sound: list[otio.schema.Track], timeline: otio.schema.Timeline,
                  asset: ET.Element, item: otio.schema.Clip) -> None:
    """The asset's audio sources as audio tracks holding a copy of the picture clip."""
    n_sources = int(asset.get("audioSources") or 1)
    while len(sound) < n_sources:
        k = len(sound)
        track = otio.schema.Track(name="Sound" if k == 0 else f"Sound {k + 1}",
                                  kind=otio.schema.TrackKind.Audio)
        track.metadata[NS] = {"channels": int(asset.get("audioChannels") or 2),
                              "sample_rate": int(asset.get("audioRate") or 48000)}
        sound.append(track)
        timeline.tracks.append(track)
    for track in sound[:n_sources]:
        track.append(otio.schema.Clip(name=item.name, source_range=item.source_range,
                                      media_reference=item.media_reference.clone()))
