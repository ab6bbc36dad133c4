"""Media stage 1: probe a file for exact rate, frame count, start timecode, VFR, size, pixel shape,
scan, rotation and sound."""

from __future__ import annotations

import logging
import os
import re
from fractions import Fraction
from pathlib import Path

from scenesem_otio.core.errors import MediaError
from scenesem_otio.core.scenes import AudioStream, VideoInfo

log = logging.getLogger("scenesem")

_VFR_SAMPLE = 240  # packets inspected for varying durations


def timecode_to_frames(timecode: str, fps: Fraction) -> tuple[int, bool]:
    """Frames from the zero hour for `timecode` at `fps`; True when it is drop-frame.

    Drop-frame (';' or '.' before the frames, 29.97/59.94 only) skips frame numbers 0 and 1
    (0–3 at 59.94) at the start of every minute except each tenth, per SMPTE 12M.
    """
    tc = timecode.strip()
    drop = ";" in tc or (tc.count(".") == 1 and tc.count(":") == 2)
    parts = tc.replace(";", ":").replace(".", ":").split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a timecode: {timecode!r}")
    hh, mm, ss, ff = (int(p) for p in parts)
    nominal = round(fps)
    frames = ((hh * 60 + mm) * 60 + ss) * nominal + ff
    if drop and nominal in (30, 60):
        skip = nominal // 15  # 2 at 29.97, 4 at 59.94
        total_minutes = hh * 60 + mm
        frames -= skip * (total_minutes - total_minutes // 10)
    else:
        drop = False
    return frames, drop


def _check_path(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if path.is_dir():
        raise MediaError(f"{path}: is a directory, not a video file")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path}: permission denied")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")


def open_container(path: str | os.PathLike):  # -> av.container.InputContainer
    """Open with PyAV, turning its errors into one-line MediaErrors that name the file."""
    import av

    path = Path(path)
    _check_path(path)
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise MediaError(f"{path}: not a readable media file (unknown format or damaged "
                         "header, e.g. a truncated mp4)") from None
    except (av.error.FFmpegError, OSError) as err:
        raise MediaError(f"{path}: cannot open media ({err})") from None


def _ffmpeg_report(path: Path, first_frame: bool) -> str:
    """What the ffmpeg binary imageio-ffmpeg ships prints about `path`: stream side data PyAV
    hides (the display matrix) and, with `first_frame`, showinfo of the first video frame
    (its scan). One run serves both; "" where the binary cannot run."""
    import subprocess

    try:
        import imageio_ffmpeg

        args = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)]
        if first_frame:
            args += ["-map", "0:v:0", "-frames:v", "1", "-vf", "showinfo", "-f", "null", "-"]
        return subprocess.run(args, capture_output=True, text=True, timeout=30).stderr
    except Exception:
        return ""


def _rotation(report: str) -> int:
    """Clockwise degrees that turn the stored frame upright, from the display matrix."""
    m = re.search(r"rotation of (-?[\d.]+) degrees", report)
    return round(-float(m.group(1))) % 360 if m else 0


def probe(path: str | os.PathLike) -> VideoInfo:
    """Facts about the first video stream, read without decoding (demux only when needed; one
    frame where the header leaves the field order unset)."""
    path = Path(path).absolute()
    with open_container(path) as container:
        videos = [s for s in container.streams if s.type == "video"]
        if not videos:
            kinds = sorted({s.type for s in container.streams})
            what = f"only {', '.join(kinds)}" if kinds else "no streams"
            raise MediaError(f"{path}: no video stream ({what})")
        stream = videos[0]
        fps = _frame_rate(path, stream)
        timecode, start_frame, drop = _start_timecode(path, container, stream, fps)
        n_frames, vfr = _count_frames(path, container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        sample_aspect = _sample_aspect(stream)
        header_order = _FIELD_ORDER.get(int(getattr(stream.codec_context, "field_order", 0)
                                            or 0))
        report = _ffmpeg_report(path, first_frame=header_order is None)
        field_order = header_order or _field_order(path, stream, report)
        rotation = _rotation(report)
        if rotation in (90, 270):
            width, height = height, width
            sample_aspect = 1 / sample_aspect
        start_s = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        return VideoInfo(
            path=str(path), fps=fps, n_frames=n_frames, width=width, height=height,
            start_frame=start_frame, start_timecode=timecode, drop_frame=drop, vfr=vfr,
            rotation=rotation, codec=stream.codec_context.name,
            has_audio=any(s.type == "audio" for s in container.streams),
            start_time_s=start_s, audio=_audio_streams(container),
            sample_aspect=sample_aspect, field_order=field_order,
        )


def _frame_rate(path: Path, stream) -> Fraction:
    """The stream's exact nominal rate (24000/1001, not 23.976023...)."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    guessed = stream.guessed_rate or stream.base_rate
    if rate and guessed and stream.time_base and rate == 1 / stream.time_base > 1000 \
            and rate != guessed:
        # Raw DV reports its 1/60000 time base as the average rate (60000 fps for 29.97): an
        # average equal to the time base's tick rate, over 1000 fps, is an artefact. (A
        # phone's variable-rate film has an average below its stream rate, and that average
        # is its true rate.)
        rate = guessed
    if not rate:
        raise MediaError(f"{path}: video stream has no frame rate")
    return Fraction(rate.numerator, rate.denominator).limit_denominator(1001)


def _start_timecode(path: Path, container, stream, fps: Fraction
                    ) -> tuple[str | None, int, bool]:
    """(start timecode as stored, as a frame count, drop-frame) from the stream, the
    container or a data (tmcd) track; an unreadable one is ignored with a warning."""
    timecode = (stream.metadata.get("timecode") or container.metadata.get("timecode"))
    for s in container.streams:
        if not timecode and s.type == "data":
            timecode = s.metadata.get("timecode")
    if timecode:
        try:
            start_frame, drop = timecode_to_frames(timecode, fps)
            return timecode, start_frame, drop
        except ValueError:
            log.warning("%s: ignoring unreadable start timecode %r", path, timecode)
    return None, 0, False


def _count_frames(path: Path, container, stream) -> tuple[int, bool]:
    """(frames, variable frame rate) by counting packets (demux, no decode): container frame
    counts are often absent or wrong."""
    durations: list[int] = []
    n_packets = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0 and packet.pts is None:
                continue
            n_packets += 1
            if len(durations) < _VFR_SAMPLE and packet.duration:
                durations.append(packet.duration)
    except Exception as err:  # damaged tail: keep what was demuxed
        log.warning("%s: demux stopped early (%s)", path, err)
    if n_packets == 0:
        raise MediaError(f"{path}: video stream has no frames")
    n_frames = n_packets
    if stream.frames and abs(stream.frames - n_packets) <= 1:
        n_frames = min(stream.frames, n_packets)
    vfr = len(set(durations)) > 2 or (
        len(set(durations)) == 2 and max(durations) - min(durations) > 1)
    return n_frames, vfr


# AVFieldOrder: 1 progressive, 2 TT, 3 BB, 4 TB (top coded first, bottom shown first), 5 BT.
_FIELD_ORDER = {1: "progressive", 2: "tff", 3: "bff", 4: "bff", 5: "tff"}


def _sample_aspect(stream) -> Fraction:
    """Pixel aspect (SAR) of the stream, 1 where the file leaves it unset (0:1) or absurd.

    PyAV's `stream.sample_aspect_ratio` is ffmpeg's guess: the container's (a MOV `pasp`
    atom, Matroska's display size) over the bitstream's, as ffmpeg, players and MLT show it.
    """
    for sar in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if sar and 0.1 < sar < 10:
            return Fraction(sar.numerator, sar.denominator)
    return Fraction(1)


def _field_order(path: Path, stream, report: str) -> str:
    """Scan of a stream whose header does not say (DV, some MPEG-2): the first decoded frame
    does. DV stores its field order in each frame (SD mostly bottom first, DVCPRO HD 1080i top
    first), which PyAV does not expose but ffmpeg's showinfo (in `report`) prints."""
    m = re.search(r"Parsed_showinfo.* n: *0 .* i:([PTB]) ", report)
    if m:
        return _SHOWINFO_SCAN[m.group(1)]
    try:  # no ffmpeg binary: PyAV says whether it is interlaced, not which field is first
        with open_container(path) as container:
            frame = next(container.decode(video=0), None)
    except Exception:  # an undecodable start: decoding will report the damage where it matters
        frame = None
    if frame is None or not frame.interlaced_frame:
        return "progressive"
    return "bff" if stream.codec_context.name == "dvvideo" else "tff"


_SHOWINFO_SCAN = {"P": "progressive", "T": "tff", "B": "bff"}


def _audio_streams(container) -> tuple[AudioStream, ...]:
    """Audio streams an NLE would import: decodable codec, at least one channel, a rate."""
    found = []
    for s in container.streams:
        if s.type != "audio":
            continue
        ctx = s.codec_context
        channels = getattr(ctx, "channels", 0) or getattr(getattr(ctx, "layout", None),
                                                          "nb_channels", 0)
        if channels and ctx.sample_rate:
            found.append(AudioStream(index=s.index, channels=int(channels),
                                     sample_rate=int(ctx.sample_rate), codec=ctx.name or ""))
    return tuple(found)


def frame_times(path: str | os.PathLike) -> list[Fraction]:
    """Presentation time in seconds of every video frame from the first (frame n = the n-th
    decoded frame, as in `media.decode`), then the end of the last frame: n_frames + 1 values.

    Only variable-rate media need this (a constant rate places frame n at n / fps); the
    timeline stage conforms such media to a standard rate by these times (`adapters.conform`).
    """
    with open_container(path) as container:
        videos = [s for s in container.streams if s.type == "video"]
        if not videos:
            raise MediaError(f"{path}: no video stream")
        stream = videos[0]
        stamps: list[tuple[int, int]] = []
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and not (packet.size == 0 and packet.pts is None):
                    stamps.append((packet.pts, packet.duration or 0))
        except Exception as err:  # damaged tail: keep what was demuxed
            log.warning("%s: demux stopped early (%s)", path, err)
        if not stamps:
            raise MediaError(f"{path}: video stream has no timestamps")
        stamps.sort()
        base = Fraction(stream.time_base.numerator, stream.time_base.denominator)
        first = stamps[0][0]
        times = [(pts - first) * base for pts, _ in stamps]
        last_pts, last_dur = stamps[-1]
        # no duration on the last packet: the mean frame length, kept exact
        last_len = Fraction(last_dur) if last_dur else \
            Fraction(last_pts - first, max(1, len(stamps) - 1))
        return [*times, (last_pts - first + last_len) * base]
