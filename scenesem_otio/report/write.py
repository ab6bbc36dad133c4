"""Report stage: one self-contained HTML storyboard of a cut, for editors to look at.

gather (timeline -> Film) -> thumbnails (frame grabs) -> view (what the page shows) ->
render (Jinja2 templates) -> one page written atomically.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenesem_otio.core.errors import ReportError
from scenesem_otio.report.gather import gather, read_report_timeline
from scenesem_otio.report.render import render_report
from scenesem_otio.report.thumbnails import thumbnails_for

if TYPE_CHECKING:
    import opentimelineio as otio

    from scenesem_otio.media.thumbnails import ShotThumbs

OUTPUTS = (".html", ".htm")


@dataclass(frozen=True)
class ReportResult:
    """What `write_report` wrote; `summary()` is the CLI's one line."""

    path: Path
    n_scenes: int
    n_shots: int
    n_images: int
    size_bytes: int
    seconds: float
    decode_seconds: float = 0.0

    def summary(self) -> str:
        decode = f", {self.decode_seconds:.1f} s of it decoding" if self.decode_seconds else ""
        return (f"report: {self.n_scenes} scenes, {self.n_shots} shots, {self.n_images} "
                f"images, {self.size_bytes / 1e6:.1f} MB in {self.seconds:.1f} s{decode} "
                f"-> {self.path}")


def check_report_path(output: str | os.PathLike) -> None:
    """Fail before long work (`cut --report`): an .html/.htm path in a writable folder."""
    from scenesem_otio.core.fileio import check_writable

    check_writable(output, OUTPUTS, ReportError, unknown="a report is HTML, not")


def write_report(timeline: str | os.PathLike | otio.schema.Timeline,
                 output: str | os.PathLike, *, video: str | os.PathLike | None = None,
                 thumbnails: Mapping[int, ShotThumbs] | None = None,
                 facts: Mapping[str, Any] | None = None,
                 progress: bool = False) -> ReportResult:
    """Write the HTML storyboard of `timeline` (a path, or the Timeline `cut` just built).

    `thumbnails` (shot start frame -> ShotThumbs, from a ThumbnailCollector fed during the
    cut's own decode) skips decoding; otherwise `video`, else the timeline's media, is
    decoded once. `facts` adds rows to the run facts (e.g. {"cut wall time": "12.1 s"}).
    """
    from scenesem_otio.core.fileio import write_text_atomic

    start = time.perf_counter()
    output = Path(output)
    check_report_path(output)
    if isinstance(timeline, (str, os.PathLike)):
        source = str(timeline)
        film = gather(read_report_timeline(timeline), source=source)
    else:
        film = gather(timeline)
    decode_s = 0.0
    if thumbnails is None:
        t0 = time.perf_counter()
        thumbnails = thumbnails_for(film, video, progress=progress)
        decode_s = time.perf_counter() - t0
    page, n_images = render_report(film, thumbnails, facts,
                                   str(video) if video is not None else None)
    data = page.encode("utf-8")
    write_text_atomic(output, page)
    return ReportResult(path=output, n_scenes=len(film.scenes), n_shots=len(film.shots),
                        n_images=n_images, size_bytes=len(data),
                        seconds=time.perf_counter() - start, decode_seconds=decode_s)
