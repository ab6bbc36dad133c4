"""Timeline files by extension: atomic writes, and reads that fail with one clear line."""

from __future__ import annotations

import csv
import io
import json
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from scenesem_otio.adapters import nle
from scenesem_otio.adapters.timeline import NS, plain_metadata
from scenesem_otio.errors import TimelineError
from scenesem_otio.fileio import atomic_path

WRITERS = (".otio", ".otioz", ".edl", ".xml", ".fcpxml", ".kdenlive", ".csv", ".json")
READERS = (*WRITERS, ".otiod")


def check_output_path(path: str | os.PathLike) -> None:
    """Fail before any long work: known extension and a writable folder."""
    path = Path(path)
    if path.suffix.lower() not in WRITERS:
        raise TimelineError(f"{path}: unknown output format {path.suffix or '(none)'!r}; "
                            f"use one of {' '.join(WRITERS)}")
    if path.is_dir():
        raise TimelineError(f"{path}: is a directory")
    parent = path.absolute().parent
    if parent.exists() and not os.access(parent, os.W_OK):
        raise TimelineError(f"{path}: folder is not writable")
    if path.suffix.lower() == ".kdenlive":
        _require_adapter("kdenlive", "otio-kdenlive-adapter", path)


def _require_adapter(name: str, package: str, path: Path) -> None:
    if name not in otio.adapters.available_adapter_names():
        raise TimelineError(f"{path}: the {name} adapter is not installed "
                            f"(pip install {package})")


def write_timeline(timeline: otio.schema.Timeline, path: str | os.PathLike,
                   **options: Any) -> None:
    """Write `timeline` by extension, atomically (a failure leaves any old file intact).

    Options: `resolve_markers=True` for .edl writes Resolve's marker-EDL form.
    """
    path = Path(path)
    check_output_path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".edl":
            nle.write_edl(timeline, tmp, resolve_markers=bool(options.get("resolve_markers")))
        elif suffix == ".xml":
            text = otio.adapters.write_to_string(timeline, adapter_name="fcp_xml")
            tmp.write_text(nle.fix_fcp7_xml(text, timeline), encoding="utf-8")
        elif suffix == ".fcpxml":
            nle.write_fcpxml(timeline, tmp)
        elif suffix == ".csv":
            tmp.write_text(_to_csv(timeline), encoding="utf-8")
        elif suffix == ".json":
            tmp.write_text(json.dumps(_to_json(timeline), indent=2), encoding="utf-8")
        elif suffix == ".kdenlive":
            otio.adapters.write_to_file(timeline, str(tmp), adapter_name="kdenlive")
        else:
            tmp.unlink()  # the otioz writer refuses to overwrite
            otio.adapters.write_to_file(timeline, str(tmp))


plain = plain_metadata  # OTIO containers -> plain dict/list (json, our readers)


def _rows(timeline: otio.schema.Timeline) -> list[dict[str, Any]]:
    rate, drop = nle._rate_info(timeline)
    fr = float(rate)
    base = round(timeline.global_start_time.value_rescaled_to(fr)) \
        if timeline.global_start_time else 0
    rows = []
    for k, item in enumerate(c for c in timeline.find_clips() if c.source_range is not None):
        start = round(item.source_range.start_time.value_rescaled_to(fr)) - base
        end = start + round(item.source_range.duration.value_rescaled_to(fr))
        meta = plain(item.metadata.get(NS, {}))
        rows.append({
            "index": k, "name": item.name, "start_frame": start, "end_frame": end,
            "start_tc": nle.timecode(base + start, rate, drop),
            "end_tc": nle.timecode(base + end, rate, drop),
            "start_s": round(float(start / rate), 6), "end_s": round(float(end / rate), 6),
            "distance_prev": meta.get("distance_prev"),
            "boundary_score": meta.get("boundary_score"),
        })
    return rows


def _to_csv(timeline: otio.schema.Timeline) -> str:
    rows = _rows(timeline)
    buf = io.StringIO()
    fields = ["index", "name", "start_frame", "end_frame", "start_tc", "end_tc", "start_s",
              "end_s", "distance_prev", "boundary_score"]
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


def _to_json(timeline: otio.schema.Timeline) -> dict[str, Any]:
    meta = plain(timeline.metadata.get(NS, {}))
    rows = _rows(timeline)
    for row, item in zip(rows, (c for c in timeline.find_clips() if c.source_range)):
        row["metadata"] = plain(item.metadata.get(NS, {}))
        url = getattr(item.media_reference, "target_url", None)
        if url:
            row["media"] = url
    return {"format": "scenesem-scenes", "version": 1, "name": timeline.name,
            "metadata": meta, "clips": rows}


# ---------------------------------------------------------------- reading


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
        if suffix == ".edl":
            timeline = _read_edl(path, rate)
        elif suffix == ".fcpxml":
            timeline = _read_fcpxml(path)
        elif suffix == ".xml":
            timeline = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
        elif suffix == ".csv":
            timeline = _read_csv(path, rate)
        elif suffix == ".json":
            timeline = _read_json(path)
        else:
            timeline = otio.adapters.read_from_file(str(path))
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
    return timeline


def _read_edl(path: Path, rate: float | Fraction | None) -> otio.schema.Timeline:
    text = path.read_text(encoding="utf-8", errors="replace")
    drop = "FCM: DROP FRAME" in text.upper()
    if rate is None:
        rate = Fraction(30000, 1001) if drop else 24
    fr = float(rate)
    timeline = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=fr,
                                              ignore_timecode_mismatch=True)
    exact = Fraction(rate).limit_denominator(1001)
    timeline.metadata.setdefault(NS, {})["fps"] = f"{exact.numerator}/{exact.denominator}"
    if drop:
        timeline.metadata[NS]["drop_frame"] = True
    return timeline


def _read_fcpxml(path: Path) -> otio.schema.Timeline:
    try:
        return nle.read_fcpxml(path)
    except Exception:
        return otio.adapters.read_from_file(str(path), adapter_name="fcpx_xml")


def _read_csv(path: Path, rate: float | Fraction | None) -> otio.schema.Timeline:
    """Our CSV, or any CSV of scene starts: a column start_frame, start_s or start_tc."""
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    if not rows:
        raise TimelineError(f"{path}: empty CSV")
    fields = {k.strip().lower(): k for k in rows[0] if k}
    fr = float(rate) if rate else 25.0
    key = next((fields[k] for k in ("start_frame", "start_s", "start", "start_tc")
                if k in fields), None)
    if key is None:
        raise TimelineError(f"{path}: CSV needs a start_frame, start_s or start_tc column")
    starts = []
    for row in rows:
        value = (row.get(key) or "").strip()
        try:
            if key.lower() == "start_frame":
                starts.append(int(float(value)))
            elif key.lower() == "start_tc":
                starts.append(otio.opentime.from_timecode(value, fr).to_frames())
            else:
                starts.append(round(float(value) * fr))
        except ValueError:
            raise TimelineError(f"{path}: bad value {value!r} in column {key}") from None
    end_key = fields.get("end_frame")
    ends = [int(float(r[end_key])) for r in rows] if end_key else None
    starts_sorted = sorted(set(starts))
    timeline = otio.schema.Timeline(name=path.stem)
    track = otio.schema.Track(name="Scenes")
    timeline.tracks.append(track)
    for i, s in enumerate(starts_sorted):
        e = ends[starts.index(s)] if ends else (
            starts_sorted[i + 1] if i + 1 < len(starts_sorted) else s + 1)
        track.append(otio.schema.Clip(
            name=f"Scene {i + 1:03d}", media_reference=_zero_based(fr),
            source_range=TimeRange(RationalTime(s, fr), RationalTime(max(1, e - s), fr))))
    timeline.metadata[NS] = {"open_end": ends is None}
    return timeline


def _read_json(path: Path) -> otio.schema.Timeline:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != "scenesem-scenes":
        raise TimelineError(f"{path}: not a scenesem scenes JSON (format key missing)")
    meta = data.get("metadata", {})
    fps = Fraction(str(meta.get("fps", "25")))
    fr = float(fps)
    timeline = otio.schema.Timeline(name=data.get("name") or path.stem)
    timeline.metadata[NS] = meta
    track = otio.schema.Track(name="Scenes")
    timeline.tracks.append(track)
    for row in data["clips"]:
        s, e = int(row["start_frame"]), int(row["end_frame"])
        item = otio.schema.Clip(
            name=str(row.get("name", "")), media_reference=_zero_based(fr),
            source_range=TimeRange(RationalTime(s, fr), RationalTime(e - s, fr)))
        item.metadata[NS] = row.get("metadata", {})
        track.append(item)
    return timeline


def _zero_based(fr: float) -> otio.schema.MissingReference:
    """CSV/JSON frames count from the media's first frame: say so with a range from 0."""
    return otio.schema.MissingReference(
        available_range=TimeRange(RationalTime(0, fr), RationalTime(10**9, fr)))
