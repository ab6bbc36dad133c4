"""Training data sources (SPEC §3.1): edited projects and FineVideo-format samples -> scenes.

Sources, by what `--data` points at:
- a manifest (`.yaml/.yml/.json`): `{video, timeline[, split][, labels]}` entries; scenes come
  from ranged markers or from the clips of a `Scenes` track, in any format scenesem reads (the
  edit's audio tracks are the picture's sound, never scenes; a phone film's edit, conformed to a
  standard rate, maps back to the media's frames);
- FineVideo: parquet shards (`mp4` bytes + `json` struct columns, read row group by row group),
  WebDataset `.tar` shards of `KEY.mp4` + `KEY.json`, or a folder of loose pairs.
`train/clips.py` turns the scenes into decoded, labelled clips.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scenesem_otio.core.errors import DataError, ScenesemError
from scenesem_otio.core.scenes import VideoInfo

log = logging.getLogger("scenesem")


@dataclass
class SceneItem:
    start: int  # media frames [start, end)
    end: int
    text: str
    title: str = ""


@dataclass
class VideoItem:
    path: str
    info: VideoInfo
    scenes: list[SceneItem]
    split: str = "train"  # "train" or "val"
    frame_labels: np.ndarray | None = None  # per-frame label ids (label mode "frame")
    source: str = ""


def scene_text(description: str, props: Any = None, context: Any = None) -> str:
    """`"{description} Props: {props}. Context: {context}."`, skipping empty parts (SPEC §3.1)."""

    def flat(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return ", ".join(x for x in (flat(v) for v in value) if x)
        if isinstance(value, dict):
            return "; ".join(f"{k}: {flat(v)}" for k, v in value.items() if flat(v))
        return str(value).strip()

    parts = []
    desc = flat(description)
    if desc:
        parts.append(desc if desc.endswith((".", "!", "?")) else desc + ".")
    if flat(props):
        parts.append(f"Props: {flat(props)}.")
    if flat(context):
        parts.append(f"Context: {flat(context)}.")
    return " ".join(parts)


# ---------------------------------------------------------------- edited projects


def load_project(video: str, timeline: str, *, split: str = "train",
                 labels_file: str | None = None, source: str = "") -> VideoItem:
    """One `{video, timeline}` pair: scenes (frames of this media) with their text."""
    from scenesem_otio.adapters.formats import read_timeline
    from scenesem_otio.adapters.timeline import scenes_from_timeline
    from scenesem_otio.media.probe import probe

    info = probe(video)
    tl = read_timeline(timeline, rate=info.fps)
    scenes = scenes_from_timeline(tl, info, source=timeline)
    from scenesem_otio.adapters.formats import plain

    items = []
    for s in scenes:
        meta = plain(s.metadata or {})
        context: Any = {k: meta[k] for k in ("mood", "setting", "characters") if meta.get(k)}
        if meta.get("context"):
            context = meta["context"] if not context else {"context": meta["context"],
                                                           **context}
        text = scene_text(s.description or s.title, meta.get("props"), context or None)
        items.append(SceneItem(s.start, s.end, text or s.title, s.title))
    if not items:
        raise DataError(f"{timeline}: no scenes (ranged markers or clips on a Scenes track)")
    frame_labels = load_frame_labels(labels_file, info.n_frames) if labels_file else None
    return VideoItem(info.path, info, items, split, frame_labels, source or timeline)


def load_frame_labels(path: str, n_frames: int) -> np.ndarray:
    """Per-frame labels: `.npy` int array, or CSV of `frame,label` rows / one label per line."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".npy":
            arr = np.load(p, allow_pickle=False).astype(np.int64).reshape(-1)
        else:
            rows = [r for r in csv.reader(p.read_text().splitlines()) if r and r[0].strip()]
            if rows and not rows[0][0].strip().lstrip("-").isdigit():
                rows = rows[1:]  # header
            if rows and len(rows[0]) >= 2:
                arr = np.full(n_frames, -1, np.int64)
                for r in rows:
                    f = int(r[0])
                    if 0 <= f < n_frames:
                        arr[f] = int(r[1])
            else:
                arr = np.asarray([int(r[0]) for r in rows], np.int64)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable frame labels ({err})") from None
    if len(arr) < n_frames:
        arr = np.concatenate([arr, np.full(n_frames - len(arr), -1, np.int64)])
    return arr[:n_frames]


def load_manifest_projects(path: str) -> list[VideoItem]:
    from scenesem_otio.core.manifest import load_manifest

    items = []
    for i, entry in enumerate(load_manifest(path)):
        split = str(entry.get("split", "train")).lower()
        if split not in ("train", "val", "validation", "test"):
            raise DataError(f"{path}: entry {i + 1}: split must be train or val")
        try:
            items.append(load_project(entry["video"], entry["timeline"],
                                      split="val" if split != "train" else "train",
                                      labels_file=entry.get("labels"), source=path))
        except ScenesemError as err:
            raise type(err)(f"{path}: entry {i + 1}: {err}") from None
    return items


# ---------------------------------------------------------------- FineVideo


_TS = re.compile(r"^\s*(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)\s*$")


def parse_timestamp(value: Any) -> float:
    """`HH:MM:SS.mmm` (or MM:SS.mmm, or seconds) -> seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    m = _TS.match(str(value))
    if not m:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"bad timestamp {value!r}") from None
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + float(s)


def _get(d: Any, *keys: str) -> Any:
    """First present key, accepting camelCase and snake_case spellings."""
    if not isinstance(d, dict):
        return None
    for key in keys:
        for k in (key, re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key),
                  re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), key)):
            if k in d and d[k] not in (None, ""):
                return d[k]
    return None


def finevideo_scenes(meta: dict[str, Any]) -> list[tuple[float, float, str, str]]:
    """(start_s, end_s, title, text) per scene of a FineVideo `json` record."""
    content = _get(meta, "content_metadata") or meta
    scenes = _get(content, "scenes") or []
    out = []
    for sc in scenes:
        ts = _get(sc, "timestamps") or sc
        start = _get(ts, "start_timestamp", "start_time", "start")
        end = _get(ts, "end_timestamp", "end_time", "end")
        if start is None or end is None:
            raise ValueError("scene without timestamps.start_timestamp/end_timestamp")
        context = {}
        mood = _get(sc, "mood")
        if isinstance(mood, dict) and _get(mood, "description"):
            context["mood"] = _get(mood, "description")
        for key in ("thematic_elements", "contextual_relevance", "audio_visual_correlation"):
            if _get(sc, key):
                context[key.replace("_", " ")] = _get(sc, key)
        story = [_get(x, "description") for x in _get(sc, "narrative_progression") or []
                 if isinstance(x, dict)]
        if any(story):
            context["story"] = "; ".join(s for s in story if s)
        acts = [_get(x, "description") for x in _get(sc, "activities") or []
                if isinstance(x, dict)]
        if any(acts):
            context["activities"] = "; ".join(a for a in acts if a)
        cast = _get(sc, "cast")
        if cast:
            context["cast"] = cast
        props = _get(sc, "props")
        text = scene_text(_get(sc, "description") or _get(sc, "title") or "", props,
                          context or None)
        out.append((parse_timestamp(start), parse_timestamp(end),
                    str(_get(sc, "title") or ""), text))
    return out


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scenesem" / \
        "finevideo"


def _store_mp4(data: bytes) -> str:
    """FineVideo carries video bytes; PyAV and PySceneDetect want a file: content-addressed."""
    from scenesem_otio.core.fileio import write_bytes_atomic

    path = _cache_root() / f"{hashlib.sha256(data).hexdigest()[:32]}.mp4"
    if not path.exists():
        write_bytes_atomic(path, data)
    return str(path)


def finevideo_item(video: str, meta: Any, source: str, split: str = "train") -> VideoItem:
    from scenesem_otio.media.probe import probe

    if isinstance(meta, (bytes, str)):
        try:
            meta = json.loads(meta)
        except ValueError as err:
            raise DataError(f"{source}: bad JSON ({err})") from None
    if not isinstance(meta, dict):
        raise DataError(f"{source}: JSON record is not an object")
    info = probe(video)
    try:
        scenes = finevideo_scenes(meta)
    except ValueError as err:
        raise DataError(f"{source}: {err}") from None
    items = []
    for start, end, title, text in scenes:
        a, b = info.frame_at(start), info.frame_at(end)
        if b > a:
            items.append(SceneItem(a, b, text, title))
    if not items:
        raise DataError(f"{source}: no scenes with a time range in content_metadata.scenes")
    return VideoItem(info.path, info, items, split, None, source)


def iter_parquet(path: str) -> Iterator[tuple[str, Any, str]]:
    """(video file, json, source) per row; streaming one row group at a time."""
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path)
    except Exception as err:
        raise DataError(f"{path}: not a parquet file ({err})") from None
    names = set(reader.schema_arrow.names)
    if not {"mp4", "json"} <= names:
        raise DataError(f"{path}: parquet shard needs `mp4` and `json` columns, has "
                        f"{', '.join(sorted(names))}")
    for g in range(reader.num_row_groups):
        table = reader.read_row_group(g, columns=["mp4", "json"])
        for r, (mp4, meta) in enumerate(zip(table.column("mp4").to_pylist(),
                                            table.column("json").to_pylist())):
            yield _store_mp4(mp4), meta, f"{path} row group {g} row {r}"


def iter_tar(path: str) -> Iterator[tuple[str, Any, str]]:
    """WebDataset shard: members `KEY.mp4` and `KEY.json` paired by key."""
    pending: dict[str, dict[str, bytes]] = {}
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, _, ext = member.name.partition(".")
                if ext.lower() not in ("mp4", "json"):
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                pending.setdefault(key, {})[ext.lower()] = handle.read()
                pair = pending[key]
                if "mp4" in pair and "json" in pair:
                    del pending[key]
                    yield _store_mp4(pair["mp4"]), pair["json"], f"{path}:{key}"
    except tarfile.TarError as err:
        raise DataError(f"{path}: not a readable tar shard ({err})") from None
    for key in pending:
        log.warning("%s: %s has no matching mp4/json partner; skipped", path, key)


def iter_loose(folder: str) -> Iterator[tuple[str, Any, str]]:
    for js in sorted(Path(folder).glob("*.json")):
        mp4 = js.with_suffix(".mp4")
        if mp4.exists():
            yield str(mp4), js.read_bytes(), str(js)


def load_sources(paths: list[str] | tuple[str, ...], label_mode: str = "scene"
                 ) -> list[VideoItem]:
    """Everything `--data` names -> VideoItems (DataError naming the file on any problem)."""
    items: list[VideoItem] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
        suffix = path.suffix.lower()
        if path.is_dir():
            found = False
            for shard in sorted(path.glob("*.parquet")):
                items += [finevideo_item(v, m, s) for v, m, s in iter_parquet(str(shard))]
                found = True
            for shard in sorted(path.glob("*.tar")):
                items += [finevideo_item(v, m, s) for v, m, s in iter_tar(str(shard))]
                found = True
            loose = [finevideo_item(v, m, s) for v, m, s in iter_loose(str(path))]
            items += loose
            if not (found or loose):
                raise DataError(f"{path}: no FineVideo data (.parquet, .tar or mp4+json pairs)")
        elif suffix in (".yaml", ".yml", ".json"):
            items += load_manifest_projects(str(path))
        elif suffix == ".parquet":
            items += [finevideo_item(v, m, s) for v, m, s in iter_parquet(str(path))]
        elif suffix == ".tar":
            items += [finevideo_item(v, m, s) for v, m, s in iter_tar(str(path))]
        else:
            raise DataError(f"{path}: unknown data source; give a manifest (.yaml/.json), "
                            "FineVideo shards (.parquet/.tar) or a folder of them")
    if not items:
        raise DataError(f"{', '.join(map(str, paths))}: no training videos found")
    if label_mode == "frame":
        for item in items:
            if item.frame_labels is None:
                # FineVideo: a frame's label is the scene it lies in (-1 outside any scene).
                arr = np.full(item.info.n_frames, -1, np.int64)
                for k, s in enumerate(item.scenes):
                    arr[s.start : s.end] = k
                item.frame_labels = arr
    return items
