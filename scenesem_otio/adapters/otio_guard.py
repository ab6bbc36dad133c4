"""Timeline stage, reading: refuse malformed timelines before they crash OTIO or our readers.

OTIO's C++ JSON reader segfaults on some inputs (no `except` catches that), and a timeline
with NaN times or non-mapping metadata would fail deep inside scene extraction. Fuzzing
(tests/test_fuzz.py) found each case handled here; each ends in one TimelineError.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from scenesem_otio.adapters.timeline import NS, plain_metadata
from scenesem_otio.core.errors import TimelineError


def check_usable(path: Path, timeline: otio.schema.Timeline) -> None:
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
        start: Any = meta.get("scene_start", {}) if hasattr(meta, "items") else None
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


def check_otio_json(path: Path, suffix: str) -> None:
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
