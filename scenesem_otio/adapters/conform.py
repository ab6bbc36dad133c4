"""Timeline stage: media at a variable or non-standard rate, conformed to a standard timeline rate.

NLEs cannot hold a timeline at a phone's average rate (12500/749 fps) or let its frames drift in
time: on import they conform the media to a standard rate by timestamps, and so do we.
Media frame n (the n-th decoded frame) is placed on timeline frame round(t_n * rate), where t_n
is its presentation time from the first frame: the rule of ffmpeg's `fps` filter (round to
nearest), so the cut lands on the frame an NLE shows for that time, within half a frame. Media
at a standard constant rate pass through unchanged (frame n is timeline frame n).
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_left
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path

from scenesem_otio.core.scenes import VideoInfo

log = logging.getLogger("scenesem")

# The rates SMPTE timecode, CMX 3600, FCP7 XML and FCPXML all accept.
STANDARD_RATES = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001),
                  Fraction(30), Fraction(48000, 1001), Fraction(48), Fraction(50),
                  Fraction(60000, 1001), Fraction(60))


def nearest_standard_rate(fps: Fraction) -> Fraction:
    """The standard rate a film at `fps` is conformed to: the lowest that is a whole multiple
    of `fps` (12.5 -> 25, 15 -> 30, 15000/1001 -> 30000/1001), so that every media frame holds
    the same number of timeline frames and no frame judders; otherwise the closest (ties go to
    the lower, NTSC one)."""
    multiples = [r for r in STANDARD_RATES if r >= fps and _whole(r / fps)]
    if multiples:
        return min(multiples)
    return min(STANDARD_RATES, key=lambda r: (abs(r - fps), r))


def _whole(ratio: Fraction) -> bool:
    """`ratio` is an integer up to a millionth (rates probed as floats are not exact)."""
    return abs(ratio - round(ratio)) < Fraction(1, 10**6) * ratio


def is_standard_rate(fps: Fraction | float) -> bool:
    return any(abs(float(fps) - float(r)) < 1e-3 for r in STANDARD_RATES)


def timeline_rate_of(fps: Fraction | float) -> Fraction:
    """The rate our timelines of media at `fps` are written at (what a reader of a file that
    carries no rate, EDL or CSV, must count in): `fps` itself if standard, else the nearest."""
    exact = Fraction(fps).limit_denominator(1001)
    return exact if is_standard_rate(exact) else nearest_standard_rate(exact)


@dataclass(frozen=True)
class Conform:
    """Media frames <-> timeline frames at `rate` (identity for standard constant-rate media)."""

    path: str
    media_fps: Fraction
    rate: Fraction
    n_frames: int  # media frames
    vfr: bool

    @property
    def active(self) -> bool:
        """False for constant-rate media at (within 0.001 fps of) a standard rate."""
        return self.vfr or not is_standard_rate(self.media_fps)

    @cached_property
    def _times(self) -> list[Fraction]:
        """Presentation time of media frames 0..n_frames (the last: the end of the film)."""
        if self.vfr:
            from scenesem_otio.media.probe import frame_times

            times = frame_times(self.path)
            if len(times) > self.n_frames:
                return [*times[:self.n_frames], times[-1]]
            step = times[-1] / max(1, len(times) - 1)  # fewer stamps than frames: extend
            return [*times[:-1], *(times[-1] + k * step
                                   for k in range(self.n_frames - len(times) + 2))]
        return [Fraction(n) / self.media_fps for n in range(self.n_frames + 1)]

    @cached_property
    def _frames(self) -> list[int]:
        return [math.floor(t * self.rate + Fraction(1, 2)) for t in self._times]

    def to_timeline(self, n: int) -> int:
        """Timeline frame (from the media's first frame) that shows media frame `n`."""
        if not self.active:
            return n
        if 0 <= n <= self.n_frames:
            return self._frames[n]
        return self._frames[-1] + round((n - self.n_frames) * self.rate / self.media_fps)

    def to_media(self, k: int) -> int:
        """Media frame a timeline cut at frame `k` starts: the first that shows at or after it."""
        if not self.active:
            return k
        return bisect_left(self._frames, k)

    def metadata(self) -> dict:
        return {"media_fps": self.media_fps, "vfr": self.vfr, "media_frames": self.n_frames,
                "rule": "timeline frame = round(frame time x rate), as ffmpeg's fps filter"}


def conform_for(info: VideoInfo) -> Conform:
    """How `info`'s frames sit on a standard-rate timeline; says so once when it conforms."""
    fps = Fraction(info.fps)
    return Conform(info.path, fps, nearest_standard_rate(fps), info.n_frames, bool(info.vfr))


def warn_conform(conform: Conform) -> None:
    if conform.active:
        kind = "variable frame rate" if conform.vfr else "non-standard frame rate"
        log.warning("%s: %s (%.3f fps on average); timeline conformed to %.3f fps by frame "
                    "timestamps, as NLEs do on import", Path(conform.path).name, kind,
                    float(conform.media_fps), float(conform.rate))
