"""Timeline files by extension: a registry of readers and writers, atomic writes, and reads
that fail with one clear line.

Each format is one `TimelineFormat` row; `write_timeline`/`read_timeline` only dispatch.
Frame-exact NLE writers live in `nle.py` (EDL, FCP7, FCPXML) and `mlt.py` (Kdenlive, Shotcut),
tables in `tables.py`, the guards against malformed OTIO JSON in `otio_guard.py`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from scenesem_otio.adapters import mlt, nle, tables
from scenesem_otio.adapters.conform import timeline_rate_of
from scenesem_otio.adapters.otio_guard import check_otio_json, check_usable
from scenesem_otio.adapters.timeline import NS, plain_metadata
from scenesem_otio.core.errors import TimelineError
from scenesem_otio.core.fileio import atomic_path, check_writable

Rate = float | Fraction | None
Writer = Callable[[otio.schema.Timeline, Path, dict[str, Any]], None]
Reader = Callable[[Path, Rate], Any]


@dataclass(frozen=True)
class TimelineFormat:
    """How one extension is read and written, whether it keeps `metadata["scenesem"]`, and
    whether its reader needs to be told the rate (a CMX 3600 EDL or a CSV of frames carries
    none; every other format says its own)."""

    suffix: str
    read: Reader
    write: Writer | None = None  # None: read only
    keeps_metadata: bool = False
    needs_rate: bool = False


def _text(render: Callable[[otio.schema.Timeline], str]) -> Writer:
    def write(timeline: otio.schema.Timeline, tmp: Path, options: dict[str, Any]) -> None:
        tmp.write_text(render(timeline), encoding="utf-8")
    return write


def _write_otio(timeline: otio.schema.Timeline, tmp: Path, options: dict[str, Any]) -> None:
    tmp.unlink()  # the otioz writer refuses to overwrite
    otio.adapters.write_to_file(timeline, str(tmp))


def _read_otio(path: Path, rate: Rate) -> Any:
    check_otio_json(path, path.suffix.lower())
    return otio.adapters.read_from_file(str(path))


def _write_edl(timeline: otio.schema.Timeline, tmp: Path, options: dict[str, Any]) -> None:
    nle.write_edl(timeline, tmp, resolve_markers=bool(options.get("resolve_markers")))


def _read_fcp7(path: Path, rate: Rate) -> Any:
    timeline = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    nle.fcp7_markers_to_source(timeline)
    picture = nle.fcp7_picture_metadata(path)
    if picture:
        timeline.metadata.setdefault(NS, {}).update(picture)
    return timeline


def _read_fcpxml(path: Path, rate: Rate) -> Any:
    try:
        return nle.read_fcpxml(path)
    except Exception:
        return otio.adapters.read_from_file(str(path), adapter_name="fcpx_xml")


def _read_edl(path: Path, rate: Rate) -> otio.schema.Timeline:
    text = path.read_text(encoding="utf-8", errors="replace")
    drop = "FCM: DROP FRAME" in text.upper()
    if rate is None:
        rate = Fraction(30000, 1001) if drop else 24
    exact = timeline_rate_of(rate)  # a phone film's EDL counts at the rate it was conformed to
    rate = exact
    if drop:  # OTIO's reader drops DF `* LOC: 01:00:35;03` lines; give it their frame
        text = nle.edl_df_locators_for_otio(text, exact)
    timeline = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=float(rate),
                                              ignore_timecode_mismatch=True)
    timeline.metadata.setdefault(NS, {})["fps"] = f"{exact.numerator}/{exact.denominator}"
    if drop:
        timeline.metadata[NS]["drop_frame"] = True
    return timeline


FORMATS: dict[str, TimelineFormat] = {f.suffix: f for f in (
    TimelineFormat(".otio", _read_otio, _write_otio, keeps_metadata=True),
    TimelineFormat(".otioz", _read_otio, _write_otio, keeps_metadata=True),
    TimelineFormat(".otiod", _read_otio, keeps_metadata=True),
    TimelineFormat(".edl", _read_edl, _write_edl, needs_rate=True),
    TimelineFormat(".xml", _read_fcp7, _text(nle.write_fcp7_xml)),
    TimelineFormat(".fcpxml", _read_fcpxml, lambda t, tmp, o: nle.write_fcpxml(t, tmp)),
    TimelineFormat(".kdenlive", lambda p, r: mlt.read_mlt(p), _text(mlt.kdenlive_xml)),
    TimelineFormat(".mlt", lambda p, r: mlt.read_mlt(p), _text(mlt.shotcut_xml)),
    TimelineFormat(".csv", tables.read_csv, _text(tables.to_csv), needs_rate=True),
    TimelineFormat(".json", lambda p, r: tables.read_json(p),
                   _text(lambda t: json.dumps(tables.to_json(t), indent=2)),
                   keeps_metadata=True),
)}
WRITERS = tuple(s for s, f in FORMATS.items() if f.write is not None)
READERS = tuple(FORMATS)

plain = plain_metadata  # OTIO containers -> plain dict/list (json, our readers)


def check_output_path(path: str | os.PathLike) -> None:
    """Fail before any long work: known extension and a writable folder."""
    check_writable(Path(path), WRITERS, TimelineError, unknown="unknown output format")


def write_timeline(timeline: otio.schema.Timeline, path: str | os.PathLike,
                   **options: Any) -> None:
    """Write `timeline` by extension, atomically (a failure leaves any old file intact).

    Options: `resolve_markers=True` for .edl writes Resolve's marker-EDL form.
    """
    path = Path(path)
    check_output_path(path)
    writer = FORMATS[path.suffix.lower()].write
    assert writer is not None  # check_output_path admits writable formats only
    with atomic_path(path) as tmp:
        writer(timeline, tmp, options)


def read_timeline(path: str | os.PathLike, rate: float | Fraction | None = None
                  ) -> otio.schema.Timeline:
    """Any supported timeline file -> OTIO Timeline; TimelineError names the file on failure.

    `rate` is needed for EDLs (they carry none): pass the probed media rate.
    """
    path = Path(path)
    if not path.exists():
        raise TimelineError(f"{path}: no such file")
    if path.is_dir() and path.suffix.lower() != ".otiod":
        raise TimelineError(f"{path}: is a directory, not a timeline")
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise TimelineError(f"{path}: unknown timeline format {suffix or '(none)'!r}; "
                            f"use one of {' '.join(READERS)}")
    try:
        timeline = FORMATS[suffix].read(path, rate)
    except TimelineError:
        raise
    except Exception as err:  # adapters raise anything from KeyError to lxml errors
        detail = str(err).strip().splitlines()[0][:200] if str(err).strip() else \
            type(err).__name__
        raise TimelineError(f"{path}: cannot read {suffix[1:]} timeline ({detail})") from None
    if isinstance(timeline, otio.schema.SerializableCollection):
        timelines = list(timeline.find_children(descended_from_type=otio.schema.Timeline)) or \
            [t for t in timeline if isinstance(t, otio.schema.Timeline)]
        if not timelines:
            raise TimelineError(f"{path}: contains no timeline")
        timeline = timelines[0]
    if not isinstance(timeline, otio.schema.Timeline):
        raise TimelineError(f"{path}: holds a {type(timeline).__name__}, not a timeline")
    if not any(True for _ in timeline.find_clips()):
        raise TimelineError(f"{path}: timeline has no clips")
    check_usable(path, timeline)
    return timeline
