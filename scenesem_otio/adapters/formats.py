"""Timeline files by extension: atomic writes, and reads that fail with one clear line."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import zipfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from scenesem_otio.adapters import mlt, nle
from scenesem_otio.adapters.timeline import NS, plain_metadata
from scenesem_otio.errors import TimelineError
from scenesem_otio.fileio import atomic_path, check_writable

WRITERS = (".otio", ".otioz", ".edl", ".xml", ".fcpxml", ".kdenlive", ".mlt", ".csv", ".json")
READERS = (*WRITERS, ".otiod")


def check_output_path(path: str | os.PathLike) -> None:
    """Fail before any long work: known extension and a writable folder."""
    path = Path(path)
    check_writable(path, WRITERS, TimelineError, unknown="unknown output format")


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
            tmp.write_text(mlt.kdenlive_xml(timeline), encoding="utf-8")
        elif suffix == ".mlt":
            tmp.write_text(mlt.shotcut_xml(timeline), encoding="utf-8")
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
            nle.fcp7_markers_to_source(timeline)
        elif suffix == ".csv":
            timeline = _read_csv(path, rate)
        elif suffix == ".json":
            timeline = _read_json(path)
        elif suffix in (".kdenlive", ".mlt"):
            timeline = mlt.read_mlt(path)
        else:
            _check_otio_json(path, suffix)
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
    _check_usable(path, timeline)
    return timeline


def _check_usable(path: Path, timeline: otio.schema.Timeline) -> None:
    """What scenes_from_timeline/cuts_from_timeline rely on, checked once so that a malformed
    file ends in one TimelineError: finite times at sane positive rates, and our metadata as
    mappings."""
    def check_time(t: RationalTime | None, what: str) -> None:
        if t is None:
            return
        rate, value = t.rate, t.value
        if not (math.isfinite(rate) and math.isfinite(value) and 1e-6 <= rate <= 1e12
                and abs(value / rate) <= 1e9):
            raise TimelineError(f"{path}: {what} has an unusable time ({value} at {rate} fps)")

    def check_range(r: TimeRange | None, what: str) -> None:
        if r is not None:
            check_time(r.start_time, what)
            check_time(r.duration, what)

    def check_meta(item: Any, what: str) -> None:
        meta = item.metadata.get(NS, {})
        start = meta.get("scene_start", {}) if hasattr(meta, "items") else None
        if not hasattr(start, "items"):
            raise TimelineError(f"{path}: {what} has {NS} metadata that is not a mapping")
        try:
            plain_metadata(meta)
        except KeyError:  # OTIO cuts a key at a NUL byte, then cannot look it up
            raise TimelineError(f"{path}: {what} has a {NS} metadata key with a NUL "
                                f"byte") from None
        except RecursionError:
            raise TimelineError(f"{path}: {what} has {NS} metadata nested too "
                                f"deeply") from None
        for m in (meta, start):
            try:
                int(m.get("n_shots") or 1)
            except (TypeError, ValueError, OverflowError):
                raise TimelineError(f"{path}: {what} has a bad n_shots "
                                    f"{str(m.get('n_shots'))[:40]!r}") from None

    check_time(timeline.global_start_time, "the timeline start")
    for track in timeline.tracks:
        if not isinstance(track, otio.core.Composition):
            raise TimelineError(f"{path}: holds a {type(track).__name__} where a track "
                                f"belongs")
    items = [timeline.tracks, *timeline.find_children()]
    for item in items:
        what = f"{type(item).__name__} {str(item.name)[:60]!r}"
        check_meta(item, what)
        check_range(getattr(item, "source_range", None), what)
        check_range(getattr(getattr(item, "media_reference", None), "available_range", None),
                    what)
        for marker in getattr(item, "markers", []):
            check_meta(marker, f"a marker of {what}")
            check_range(marker.marked_range, f"a marker of {what}")


# OTIO's schema upgrades (version < 2 -> 2) overwrite these keys; an OTIO object held in a
# value they drop is freed while the C++ reader still points at it: a segfault.
_UPGRADE_DROPS = {"Clip": ("media_references", "active_media_reference_key", "media_reference"),
                  "Marker": ("marked_range",)}


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    """Every mapping inside parsed JSON, without recursion (the input may nest deeply)."""
    todo = [value]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            yield node
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)


def _holds_object(value: Any) -> bool:
    return any("OTIO_SCHEMA" in node for node in _dicts(value))


def _check_otio_json(path: Path, suffix: str) -> None:
    """Refuse, with a TimelineError, the OTIO JSON that crashes OTIO's C++ reader (a segfault
    that no `except` can catch). Fuzzing found these: nesting deep enough to overflow the
    C++ stack, a value holding OTIO objects dropped by a duplicate key or by the upgrade of an
    old-version Clip/Marker, and a Timeline with `"tracks": null`.
    """
    if suffix == ".otioz":
        with zipfile.ZipFile(path) as zf:
            raw = zf.read("content.otio")
    else:
        raw = (path / "content.otio" if suffix == ".otiod" else path).read_bytes()

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen = set()
        for key, _ in pairs:
            if key in seen:  # OTIO frees the value it drops, then reads it
                raise TimelineError(f"{path}: OTIO JSON has a duplicate key {key[:60]!r}")
            seen.add(key)
        return dict(pairs)

    try:  # Python's parser stops at ~1,000 levels; OTIO's crashes somewhere past 20,000
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=unique)
    except RecursionError:
        raise TimelineError(f"{path}: OTIO JSON is nested too deeply") from None
    except ValueError as err:
        raise TimelineError(f"{path}: not valid OTIO JSON ({err})") from None
    for node in _dicts(data):
        name, _, version = str(node.get("OTIO_SCHEMA", "")).rpartition(".")
        if name == "Timeline" and "tracks" in node and node["tracks"] is None:
            raise TimelineError(f"{path}: timeline {str(node.get('name', ''))[:60]!r} "
                                f"has null tracks")  # OTIO keeps a null pointer
        old = re.match(r"\s*[-+]?\d+", version)  # OTIO reads the version like stoi
        for key in _UPGRADE_DROPS.get(name, ()) if old and int(old.group()) < 2 else ():
            value = node.get(key)
            kept = key == "media_reference" and isinstance(value, dict) \
                and "OTIO_SCHEMA" in value  # the upgrade keeps a media reference object
            if not kept and _holds_object(value):
                raise TimelineError(f"{path}: malformed {key} in {name}.{version} "
                                    f"{str(node.get('name', ''))[:60]!r}")


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
