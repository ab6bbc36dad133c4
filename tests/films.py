"""Synthetic test films with known cut frames, encoded for real (H.264 through PyAV)."""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scenesem_otio.media.encode import VideoWriter


def shot_frames(seed: int, n: int, width: int, height: int, angle: int = 0) -> np.ndarray:
    """Frames of one shot: a textured background unique to `seed` and a moving square.

    Neighbouring shots differ strongly in colour and texture so any shot detector finds the cut
    on the exact frame; the moving square keeps frames within a shot from being identical.
    """
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=3)
    yy, xx = np.mgrid[0:height, 0:width]
    fx, fy = rng.uniform(0.02, 0.12, size=2)
    phase = rng.uniform(0, 6)
    if angle:  # another camera angle on the same place: same colours, different framing
        view = np.random.default_rng((seed, angle))
        fx, fy = view.uniform(0.02, 0.12, size=2)
        phase = view.uniform(0, 6)
        base = np.clip(base + view.integers(-40, 41, size=3), 0, 255)
    tex = (np.sin(xx * fx + phase) * np.cos(yy * fy) * 60).astype(np.int16)
    bg = np.clip(base[None, None, :] + tex[..., None], 0, 255).astype(np.uint8)
    out = np.empty((n, height, width, 3), np.uint8)
    side = max(4, height // 6)
    for i in range(n):
        f = bg.copy()
        x = (i * 3) % max(1, width - side)
        y = (height - side) // 2
        f[y : y + side, x : x + side] = 255 - base
        out[i] = f
    return out


def render_film(
    path: Path,
    fps: Fraction | int | str,
    shot_lengths: list[int],
    width: int = 320,
    height: int = 180,
    timecode: str | None = None,
    seeds: list[int] | None = None,
) -> list[int]:
    """Write a film whose shots have `shot_lengths` frames; return the cut frames (shot starts).

    `seeds` lets shots share a place (same seed = same colours, a new camera angle each time
    the place comes back in a row) to build scenes whose shot cuts are still detectable.
    """
    seeds = seeds or list(range(len(shot_lengths)))
    cuts = []
    angle = 0
    with VideoWriter(path, fps, width, height, timecode=timecode) as w:
        for k, (seed, n) in enumerate(zip(seeds, shot_lengths)):
            angle = angle + 1 if k and seeds[k - 1] == seed else 0
            cuts.append(w.n_frames)
            for frame in shot_frames(seed, n, width, height, angle):
                w.write(frame)
    return cuts[1:]


STAMP_BITS = 16  # frame numbers up to 65,535
STAMP_BLOCK = 20  # pixels per bit; two rows: the bits, then their complement


def stamp(frame: np.ndarray, number: int) -> None:
    """Draw `number` across the top of `frame` as black/white blocks (MSB first), then the
    complement below, so a decoder can read it back exactly and tell a misread."""
    b = STAMP_BLOCK
    for k in range(STAMP_BITS):
        bit = (number >> (STAMP_BITS - 1 - k)) & 1
        frame[0:b, k * b:(k + 1) * b] = 255 if bit else 0
        frame[b:2 * b, k * b:(k + 1) * b] = 0 if bit else 255


def read_stamp(grey: np.ndarray) -> int | None:
    """The number `stamp` drew on a decoded greyscale frame (any size: blocks are scaled), or
    None where the blocks are not a clean bit pattern (black, another picture)."""
    h, w = grey.shape
    sx, sy = w / (STAMP_BITS * STAMP_BLOCK), h / 180
    number = 0
    for k in range(STAMP_BITS):
        x0, x1 = int((k * STAMP_BLOCK + 5) * sx), int(((k + 1) * STAMP_BLOCK - 5) * sx)
        top = grey[int(5 * sy):int(15 * sy), x0:x1].mean()
        bottom = grey[int(25 * sy):int(35 * sy), x0:x1].mean()
        if not ((top > 170 and bottom < 85) or (top < 85 and bottom > 170)):
            return None
        number = number * 2 + int(top > 170)
    return number


def render_stamped_film(path: Path, fps: Fraction | int | str, n_frames: int,
                        timecode: str | None = None, shot_lengths: list[int] | None = None
                        ) -> None:
    """A 320x180 film whose frame n shows n as a bar code (`read_stamp` reads it back from a
    render), over shots that look different (`shot_lengths`, default one shot)."""
    lengths = shot_lengths or [n_frames]
    assert sum(lengths) == n_frames
    with VideoWriter(path, fps, STAMP_BITS * STAMP_BLOCK, 180, timecode=timecode) as w:
        for seed, n in enumerate(lengths):
            for frame in shot_frames(seed, n, STAMP_BITS * STAMP_BLOCK, 180):
                stamp(frame, w.n_frames)
                w.write(frame)


def ffmpeg_exe() -> str:
    """Debian's ffmpeg where installed (`.ci/run`), else the binary imageio-ffmpeg ships."""
    import shutil

    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def add_noise_sound(video: Path, out: Path, seed: int = 0, channels: int = 2,
                    sample_rate: int = 48000, codec: str = "aac") -> None:
    """`video` with a white-noise sound track as long as the picture (AAC, as cameras and
    phones record): noise has one sharp cross-correlation peak, so a render's sound can be
    placed against the source's to the sample. The start timecode is kept."""
    import subprocess
    import wave

    from scenesem_otio.media.probe import probe

    info = probe(video)
    n = round(Fraction(info.n_frames) / info.fps * sample_rate)
    noise = np.random.default_rng(seed).normal(0, 0.25, (n, channels)).clip(-1, 1)
    wav = out.with_suffix(".noise.wav")
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes((noise * 32767).astype("<i2").tobytes())
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-i", str(wav), "-map", "0:v",
           "-map", "1:a", "-c:v", "copy", "-c:a", codec, "-b:a", "256k"]
    if info.start_timecode:
        cmd += ["-timecode", info.start_timecode]
    subprocess.run([*cmd, str(out)], check=True, capture_output=True)
    wav.unlink()


def render_vfr_film(path: Path, frame_ms: list[int], shot_lengths: list[int],
                    width: int = 160, height: int = 90) -> list[Fraction]:
    """A variable-frame-rate film as phones record: frame k lasts `frame_ms[k % len]` ms
    (millisecond time base). Returns each frame's presentation time in seconds, then the
    film's end; the cuts are the shot starts (frames)."""
    import av

    times = [Fraction(0)]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"crf": "18", "preset": "veryfast", "bf": "0", "threads": "2"}
        k = 0
        for seed, n in enumerate(shot_lengths):
            for frame in shot_frames(seed, n, width, height):
                vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
                vf.pts = int(times[-1] * 1000)
                vf.time_base = Fraction(1, 1000)
                for packet in stream.encode(vf):
                    container.mux(packet)
                times.append(times[-1] + Fraction(frame_ms[k % len(frame_ms)], 1000))
                k += 1
        for packet in stream.encode():
            container.mux(packet)
    return times


SAMPLE_RATE = 48000  # what the sound checks decode everything to


def decode_sound(path: Path) -> np.ndarray:
    """The first audio stream's left channel as float samples at 48 kHz (ffmpeg decodes)."""
    import subprocess
    import wave

    wav = path.with_suffix(".sound.wav")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(path), "-map", "0:a:0",
                    "-ac", "2", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", str(wav)],
                   check=True)
    with wave.open(str(wav)) as w:
        raw = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        return raw.reshape(-1, w.getnchannels())[:, 0].astype(np.float64)


def lag_and_peak(render: np.ndarray, source: np.ndarray, at: int, src_at: int, n: int,
                 search: int) -> tuple[int, float]:
    """Where `render[at:at+n]` sits in `source` relative to `src_at` (samples), and how well
    (normalised cross-correlation, 1 = the same samples)."""
    seg = render[at:at + n]
    lo = max(0, src_at - search)
    window = source[lo:src_at + n + search]
    size = 1 << (len(window) - 1).bit_length()  # cross-correlation by FFT: O(n log n)
    full = np.fft.irfft(np.fft.rfft(window, size) * np.conj(np.fft.rfft(seg, size)), size)
    corr = full[:len(window) - len(seg) + 1]  # the "valid" lags
    best = int(np.argmax(corr))
    match = window[best:best + n]
    peak = float(corr[best] / np.sqrt((seg ** 2).sum() * (match ** 2).sum() + 1e-12))
    return lo + best - src_at, peak


def clip_sound_lags(sound: np.ndarray, source: np.ndarray, timeline: Any, info: Any
                    ) -> list[tuple[str, int, float]]:
    """(clip, lag in samples, correlation) of the render's `sound` under every clip of the
    timeline's picture track against the `source` at the clip's source range, less a frame at
    each end (where a neighbour's sound may bleed in)."""
    per_frame = SAMPLE_RATE / Fraction(info.fps)
    out = []
    record = 0
    for clip in timeline.video_tracks()[0].find_clips():
        src = clip.source_range.start_time.to_frames() - info.start_frame
        n = clip.source_range.duration.to_frames()
        at, src_at = round((record + 1) * per_frame), round((src + 1) * per_frame)
        lag, peak = lag_and_peak(sound, source, at, src_at, round((n - 2) * per_frame),
                                 search=SAMPLE_RATE // 10)
        out.append((clip.name, lag, peak))
        record += n
    return out


# melt's avformat consumer as the tests render picture and sound: lossless FFV1 (the frame
# stamps come back exact) and 16-bit PCM at the test films' rate, stereo
MELT_AV = ("vcodec=ffv1", "acodec=pcm_s16le", f"ar={SAMPLE_RATE}", "ac=2")
needs_melt = pytest.mark.skipif(shutil.which("melt") is None,
                                reason="melt is not installed (apt-get install melt)")

# A render of a few seconds; a hung melt is given up on after this and run once more.
MELT_TRY_S = 120


def melt_render(project: Path, render: Path, *consumer: str) -> subprocess.CompletedProcess:
    """`melt PROJECT -consumer avformat:RENDER ARGS…`, as the tests render our projects.

    melt 7.12 sometimes never exits after a render: about 1 in 350 renders here its consumer
    thread had ended and the main thread polled on alone (one thread left, in nanosleep), until
    the test's timeout (seen in CI). Such a run is killed after MELT_TRY_S and the render
    started over once; a project melt cannot render still fails (its exit code, or a second
    hang). stdin is closed: melt reads its transport keys from it."""
    args = ["melt", str(project), "-consumer", f"avformat:{render}", *consumer]
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=MELT_TRY_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        render.unlink(missing_ok=True)
        return subprocess.run(args, capture_output=True, text=True, timeout=MELT_TRY_S,
                              stdin=subprocess.DEVNULL)
