"""Batch stage 1: the command line's inputs -> one `FilmJob` per film, each with its output name.

Inputs are video files, folders (searched for video, recursively) and list files (one path or
URI per line). A film's outputs are named after it (`OUTDIR/NAME.otio`, …); films found under a
folder keep their sub-folders, so an archive's tree is mirrored and `a/reel1.mov` and
`b/reel1.mov` stay apart. Names that still clash get a short hash of their source.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from scenesem_otio.core.errors import ScenesemError

VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mxf", ".mpg", ".mpeg", ".ts", ".mts",
    ".m2ts", ".wmv", ".flv", ".dv", ".3gp", ".ogv", ".y4m",
})
LIST_SUFFIXES = frozenset({".txt", ".list", ".lst"})
# Names the batch itself writes in OUTDIR: a film called index.mp4 must not overwrite the index.
RESERVED_NAMES = frozenset({"index", "batch"})


@dataclass(frozen=True)
class FilmJob:
    """One film of the batch: where it is read from and the name its outputs carry."""

    name: str  # output stem relative to OUTDIR, '/'-separated ("reel1", "a/reel1")
    source: str  # the path or URI as the user gave it (the ledger's `input`)
    path: Path | None  # the local path to read; None for a URI no worker can open
    input_key: str  # size and mtime of the file when planned: a changed file is cut again


def plan_films(inputs: list[str], exclude: Path | None = None) -> list[FilmJob]:
    """Expand `inputs` into films, in a stable order, with unique output names.

    `exclude` (the output folder) is never searched, so outputs are not taken for inputs.
    A top-level input that does not exist is a user mistake (ScenesemError); a missing film
    named in a list file becomes a job that fails on its own and lets the others go on.
    """
    found: list[tuple[str, str, Path | None]] = []  # (name, source, path)
    for text in inputs:
        path = _local_path(text)
        if path is None:
            found.append((_uri_stem(text), text, None))
        elif path.is_dir():
            found.extend(_search(path, exclude))
        elif path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            found.extend(_read_list(path, exclude))
        elif path.exists():
            found.append((path.stem, text, path))
        else:
            raise ScenesemError(f"{text}: no such file or folder")
    seen: set[str] = set()
    unique = []
    for name, source, path in found:  # the same film reached twice is cut once
        key = str(path.resolve()) if path is not None else source
        if key not in seen:
            seen.add(key)
            unique.append((name, source, path))
    counts = Counter(name for name, _, _ in unique)
    return [FilmJob(name=_disambiguate(name, source, counts[name] > 1), source=source,
                    path=path.absolute() if path is not None else None,
                    input_key=input_key(path))
            for name, source, path in unique]


def input_key(path: Path | None) -> str:
    """What identifies a film's content cheaply: size and modification time (not a hash,
    which would read every byte of thousands of hours before any work starts)."""
    if path is None:
        return ""
    try:
        st = path.stat()
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def _local_path(text: str) -> Path | None:
    """A plain path, or the path of a file:// URI; None for other URIs (s3://, http://)."""
    if "://" not in text:
        return Path(text).expanduser()
    url = urlparse(text)
    if url.scheme == "file":
        return Path(unquote(url.path))
    return None


def _uri_stem(text: str) -> str:
    return Path(unquote(urlparse(text).path)).stem or "film"


def _search(folder: Path, exclude: Path | None) -> list[tuple[str, str, Path | None]]:
    skip = exclude.resolve() if exclude is not None else None
    films: list[tuple[str, str, Path | None]] = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and (skip is None or (here / d).resolve() != skip))
        for name in sorted(files):
            path = here / name
            if not name.startswith(".") and path.suffix.lower() in VIDEO_SUFFIXES:
                films.append((path.relative_to(folder).with_suffix("").as_posix(), str(path),
                              path))
    return films


def _read_list(path: Path, exclude: Path | None) -> list[tuple[str, str, Path | None]]:
    """Lines of a list file: paths (relative to the list's folder), folders or URIs; blank
    lines and `#` comments are ignored."""
    films: list[tuple[str, str, Path | None]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        local = _local_path(text)
        if local is None:
            films.append((_uri_stem(text), text, None))
            continue
        if not local.is_absolute():
            local = path.parent / local
        if local.is_dir():
            films.extend(_search(local, exclude))
        else:  # a missing film is the job's failure, not the batch's
            films.append((local.stem, text, local))
    return films


def _disambiguate(name: str, source: str, clash: bool) -> str:
    if clash or name.lower() in RESERVED_NAMES or not name:
        return f"{name or 'film'}-{hashlib.sha1(source.encode()).hexdigest()[:8]}"
    return name
