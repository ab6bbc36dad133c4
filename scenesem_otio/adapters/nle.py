"""Writers for the NLE formats where OTIO's own adapters write files editors reject.

- EDL: otio-cmx3600-adapter writes no `FCM:` line and counts 23.976 without a rate check;
  we write CMX3600 ourselves (TITLE, FCM matching DF/NDF, `;` only for DF, 8-char reels).
- FCP7 XML: otio-fcp-adapter repeats `<rate>` inside one element and leaves `<format/>` empty;
  we post-process its output (one rate per element, a real format, DF/NDF, marker comments).
- FCPXML: otio-fcpx-xml-adapter writes version 1.8 with an empty `frameDuration` and
  asset-clips outside any project; we write FCPXML 1.9 ourselves (library/event/project).

Sound (the timeline's audio tracks, `timeline.py`) goes with each picture clip in the form each
NLE links: EDL channel codes (`edl_channels`), FCP7 audio clipitems per channel with `<link>`s
and `<sourcetrack>`, FCPXML assets that declare their audio (asset-clips then play both).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from urllib.parse import unquote
from xml.sax.saxutils import quoteattr

import opentimelineio as otio
from opentimelineio.opentime import RationalTime

from scenesem_otio.adapters.frames import clip_path, frames, media_start
from scenesem_otio.adapters.timeline import NS, picture_clips, sound_channels, sound_facts

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
    each event carries the sound with its picture (`edl_channels`)."""
    rate, drop = rate_info(timeline)
    channel = edl_channels(timeline)
    fr = float(rate)
    rec = frames(timeline.global_start_time, fr) \
        if timeline.global_start_time else 0
    lines = [f"TITLE: {_ascii(timeline.name or 'scenesem')}",
             f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}", ""]
    event = 0
    for item in picture_clips(timeline):
        src_in = frames(item.source_range.start_time, fr)
        dur = frames(item.source_range.duration, fr)
        reel = _reel(clip_path(item))
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
            rec += dur
            continue
        event += 1
        lines.append(
            f"{event:03d}  {reel:<8} {channel:<5} C        {timecode(src_in, rate, drop)} "
            f"{timecode(src_in + dur, rate, drop)} {timecode(rec, rate, drop)} "
            f"{timecode(rec + dur, rate, drop)}")
        lines.append(f"* FROM CLIP NAME: {_ascii(item.name)}")
        source = clip_path(item)
        if source:
            lines.append(f"* SOURCE FILE: {source}")
        for m in item.markers:
            at = frames(m.marked_range.start_time, fr)
            lines.append(f"* LOC: {timecode(at, rate, drop)} {str(m.color).upper():<7} "
                         f"{_ascii(m.name)}")
        lines.append("")
        rec += dur
    path.write_text("\n".join(lines) + "\n", encoding="ascii", errors="replace")


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
    meta = timeline.metadata.get(NS, {})
    for fmt in root.iter("format"):
        if len(fmt) == 0:
            sc = ET.SubElement(fmt, "samplecharacteristics")
            r = ET.SubElement(sc, "rate")
            ET.SubElement(r, "timebase").text = str(round(rate))
            ET.SubElement(r, "ntsc").text = "TRUE" if rate.denominator == 1001 else "FALSE"
            ET.SubElement(sc, "width").text = str(meta.get("width", 1920))
            ET.SubElement(sc, "height").text = str(meta.get("height", 1080))
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
            audio = ET.SubElement(media, "audio")
            sc = ET.SubElement(audio, "samplecharacteristics")
            ET.SubElement(sc, "depth").text = "16"
            ET.SubElement(sc, "samplerate").text = str(stream["sample_rate"])
            ET.SubElement(audio, "channelcount").text = str(stream["channels"])


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


def write_fcpxml(timeline: otio.schema.Timeline, path: Path) -> None:
    """FCPXML 1.9: library/event/project/sequence/spine of asset-clips with markers; assets
    declare the sound so each clip plays picture and sound together (`_fcpxml_audio`)."""
    rate, drop = rate_info(timeline)
    fr = float(rate)
    meta = timeline.metadata.get(NS, {})
    tc_format = "DF" if drop else "NDF"
    clips = picture_clips(timeline)
    asset_audio, sequence_audio = _fcpxml_audio(timeline)
    assets = _fcpxml_assets(clips, fr)
    width, height = meta.get("width", 1920), meta.get("height", 1080)
    frame_dur = _secs(1, rate)
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<!DOCTYPE fcpxml>", "",
           '<fcpxml version="1.9">', "  <resources>",
           f'    <format id="r1" name="FFVideoFormat{height}p{round(fr * 100)}" '
           f'frameDuration="{frame_dur}" width="{width}" height="{height}"/>']
    for url, (rid, a_start, a_dur) in assets.items():
        name = Path(url).stem if url else "media"
        out.append(f'    <asset id="{rid}" name={quoteattr(name)} start="{_secs(a_start, rate)}" '
                   f'duration="{_secs(a_dur, rate)}" hasVideo="1" format="r1"{asset_audio}>')
        out.append(f'      <media-rep kind="original-media" src={quoteattr(url)}/>')
        out.append("    </asset>")
    start_tc = frames(timeline.global_start_time, fr) \
        if timeline.global_start_time else 0
    total = sum(frames(c.source_range.duration, fr) for c in clips)
    name = quoteattr(timeline.name or "scenesem")
    out += ["  </resources>", "  <library>", '    <event name="scenesem">',
            f"      <project name={name}>",
            f'        <sequence format="r1" duration="{_secs(total, rate)}" '
            f'tcStart="{_secs(start_tc, rate)}" tcFormat="{tc_format}"{sequence_audio}>',
            "          <spine>"]
    out += _fcpxml_spine(clips, assets, start_tc, rate, tc_format)
    out += ["          </spine>", "        </sequence>", "      </project>", "    </event>",
            "  </library>", "</fcpxml>", ""]
    path.write_text("\n".join(out), encoding="utf-8")


def _fcpxml_assets(clips: list[otio.schema.Clip], fr: float) -> dict[str, tuple[str, int, int]]:
    """url -> (resource id, start, duration in frames), one asset per media file in clip order:
    FCPXML declares each file once and its clips refer to it."""
    assets: dict[str, tuple[str, int, int]] = {}
    for item in clips:
        url = getattr(item.media_reference, "target_url", None) or ""
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


def _fcpxml_spine(clips: list[otio.schema.Clip], assets: dict[str, tuple[str, int, int]],
                  start_tc: int, rate: Fraction, tc_format: str) -> list[str]:
    """The spine's asset-clips end to end from the sequence's start timecode, each with its
    markers (FCPXML places clips by offset, not by order)."""
    fr = float(rate)
    frame_dur = _secs(1, rate)
    out: list[str] = []
    offset = start_tc
    for item in clips:
        rid = assets[getattr(item.media_reference, "target_url", None) or ""][0]
        src = frames(item.source_range.start_time, fr)
        dur = frames(item.source_range.duration, fr)
        out.append(f'            <asset-clip ref="{rid}" name={quoteattr(item.name)} '
                   f'offset="{_secs(offset, rate)}" start="{_secs(src, rate)}" '
                   f'duration="{_secs(dur, rate)}" format="r1" tcFormat="{tc_format}">')
        for m in item.markers:
            at = frames(m.marked_range.start_time, fr)
            out.append(f'              <marker start="{_secs(at, rate)}" '
                       f'duration="{frame_dur}" value={quoteattr(m.name)} '
                       f'note={quoteattr(m.comment or "")}/>')
        out.append("            </asset-clip>")
        offset += dur
    return out


def read_fcpxml(path: Path) -> otio.schema.Timeline:
    """Read FCPXML asset-clips/clips on the spine (ours and simple NLE exports)."""
    root = ET.parse(path).getroot()
    if root.tag != "fcpxml":
        raise ValueError("root element is not <fcpxml>")
    formats = {f.get("id"): f for f in root.iter("format")}
    assets = {a.get("id"): a for a in root.iter("asset")}

    def secs(text: str | None) -> Fraction:
        if not text:
            return Fraction(0)
        return Fraction(text.rstrip("s"))

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
    timeline.metadata[NS] = {"fps": f"{rate.numerator}/{rate.denominator}"}
    if sequence.get("tcFormat") == "DF":
        timeline.metadata[NS]["drop_frame"] = True
    track = otio.schema.Track(name="Scenes", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    sound: list[otio.schema.Track] = []
    spine = sequence.find("spine")
    for el in list(spine) if spine is not None else []:
        if el.tag not in ("asset-clip", "clip", "video"):
            continue
        ref_id = el.get("ref") or next((v.get("ref") for v in el.iter("video")), None)
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
        for m in el.findall("marker"):
            item.markers.append(otio.schema.Marker(
                name=m.get("value") or "", comment=m.get("note") or "",
                marked_range=otio.opentime.TimeRange(
                    RationalTime(round(secs(m.get("start")) * rate), fr), RationalTime(0, fr))))
        track.append(item)
        if asset is not None and asset.get("hasAudio") == "1":
            _fcpxml_sound(sound, timeline, asset, item)
    return timeline


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
