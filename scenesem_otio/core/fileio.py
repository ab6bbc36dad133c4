"""Crash-safe output: everything we write lands through a temp file and an atomic rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path beside `target`; rename it onto `target` only if the block succeeds.

    The temp file keeps `target`'s suffix (or `suffix`) because some writers pick their format
    from it. On any exception the temp file is removed and an existing `target` is untouched.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp" + (suffix or target.suffix),
            dir=target.parent)
    except OSError as err:  # name the file asked for, not the temp file beside it
        from scenesem_otio.core.errors import ScenesemError

        raise ScenesemError(f"{target}: cannot write here ({err.strerror or err})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
    try:
        yield tmp_path
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temp directory beside `target`; swap it in for `target` only on success.

    An existing `target` is moved aside first and deleted only after the new one is in place,
    so a crash at any point leaves either the old or the new directory complete.
    """
    import shutil

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_writable(path: str | os.PathLike, suffixes: tuple[str, ...],
                   error: type[Exception] | None = None,
                   unknown: str = "unsupported output type") -> None:
    """Fail before long work when an output path cannot be written or has a wrong suffix.

    `error` is the ScenesemError subclass to raise (TimelineError for timelines).
    """
    from scenesem_otio.core.errors import ScenesemError

    error = error or ScenesemError
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise error(f"{path}: {unknown} {path.suffix or '(none)'!r}; "
                    f"use one of {' '.join(suffixes)}")
    if path.is_dir():
        raise error(f"{path}: is a directory")
    check_room_beside(path, error)


def check_writable_dir(path: str | os.PathLike, error: type[Exception] | None = None) -> None:
    """Fail before long work (a training run) when a folder to write (`atomic_dir`: a temp
    folder beside it, swapped in) cannot be made or written."""
    from scenesem_otio.core.errors import ScenesemError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise (error or ScenesemError)(f"{path}: is a file, not a folder")
    check_room_beside(path, error or ScenesemError)


def check_room_beside(path: Path, error: type[Exception]) -> None:
    """The folder `path` goes in exists or can be made there, and is writable."""
    folder = nearest_existing(path.absolute().parent)
    if not folder.is_dir():  # the missing folders could not be made under a file
        raise error(f"{path}: cannot make a folder under {folder}, which is a file")
    if not os.access(folder, os.W_OK):
        raise error(f"{path}: folder {folder} is not writable")


def nearest_existing(folder: Path) -> Path:
    """`folder` or its closest ancestor that exists: where missing folders would be made."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder
