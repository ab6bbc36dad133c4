"""Timeline stage: OTIO times <-> integer frames at the media's exact rate, in one place.

RationalTime is created in `timeline.py` and the NLE writers; reading it back always rounds the
value rescaled to the media rate, so 435/25 s is frame 435 and never 434.999… truncated.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

from opentimelineio.opentime import RationalTime


def frames(t: RationalTime, rate: float) -> int:
    """`t` as a whole frame count at `rate` (rounded, never truncated)."""
    return round(t.value_rescaled_to(rate))


def record_start(timeline: Any, rate: float) -> int:
    """The timeline's start (its start timecode) in frames; 0 when it has none."""
    start = timeline.global_start_time
    return frames(start, rate) if start is not None else 0


def media_start(item: Any, rate: float, default: int = 0) -> int:
    """First frame of the clip's media (its start timecode); `default` without one."""
    available = getattr(item.media_reference, "available_range", None)
    return frames(available.start_time, rate) if available is not None else default


def source_frames(item: Any, rate: float) -> tuple[int, int]:
    """(source in, duration) of a clip, in frames of its media's timecode."""
    return (frames(item.source_range.start_time, rate),
            frames(item.source_range.duration, rate))


def clip_path(item: Any, local_only: bool = False) -> str | None:
    """The local file a clip plays: its media URL's path (`file://` or bare), unquoted; a URL
    of another scheme as it stands (None with `local_only`); None without a media URL. The one
    rule every writer and reader uses."""
    url = getattr(item.media_reference, "target_url", None)
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme in ("file", ""):
        return unquote(parsed.path)
    return None if local_only else url
