"""Manifests: YAML or JSON lists of `{video, timeline, ...}` entries for `train` and `eval`.

Relative paths are resolved against the manifest's folder, so a project folder can move.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scenesem_otio.core.errors import DataError

PATH_KEYS = ("video", "timeline", "pred", "truth", "labels")
# what an entry looks like, in the error for a manifest that has none (train's or eval's keys)
EXAMPLES = {"video": "film.mp4", "timeline": "film.otio", "pred": "film.otio",
            "truth": "film_truth.otio"}


def is_manifest(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in (".yaml", ".yml", ".json") and Path(path).is_file() \
        and not _is_scenes_json(Path(path))


def _is_scenes_json(path: Path) -> bool:
    if path.suffix.lower() != ".json":
        return False
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return '"scenesem-scenes"' in head


def load_manifest(path: str | os.PathLike, required: tuple[str, ...] = ("video", "timeline"),
                  check_files: bool = True) -> list[dict[str, Any]]:
    """Entries with absolute paths; DataError (naming the file and entry) on anything wrong."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such manifest")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a manifest")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except Exception as err:  # also RecursionError (deep nesting), PyYAML's own bugs
        # (`!!timestamp x` raises AttributeError): any failure here is a bad manifest
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: not a valid YAML/JSON manifest ({first})") from None
    if isinstance(data, dict):
        data = data.get("items", data.get("videos", data.get("projects")))
    if not isinstance(data, list) or not data:
        like = ", ".join(f"{key}: {EXAMPLES.get(key, '…')}" for key in required)
        raise DataError(f"{path}: a manifest is a non-empty list of entries like {{{like}}}")
    entries = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise DataError(f"{path}: entry {i + 1} is not a mapping")
        missing = [k for k in required if not raw.get(k)]
        if missing:
            raise DataError(f"{path}: entry {i + 1} lacks {', '.join(missing)}")
        entry = dict(raw)
        for key in PATH_KEYS:
            if entry.get(key):
                try:  # a NUL byte, a lone surrogate or ~nosuchuser fail in pathlib/os
                    p = Path(str(entry[key])).expanduser()
                    entry[key] = str(p if p.is_absolute() else (path.parent / p).resolve())
                    exists = not check_files or Path(entry[key]).exists()
                except (ValueError, RuntimeError, OSError) as err:
                    raise DataError(f"{path}: entry {i + 1}: {key} {str(raw[key])[:80]!r} is "
                                    f"not a usable path ({err})") from None
                if not exists:
                    raise DataError(f"{path}: entry {i + 1}: {key} {raw[key]!r} does not exist")
        entries.append(entry)
    return entries
