"""Error types: every user mistake becomes one of these, and the CLI prints it as one line."""

from __future__ import annotations


class ScenesemError(Exception):
    """Base class; `str(err)` is the one line shown to the user (name the file and the problem)."""


class MediaError(ScenesemError):
    """Media is missing, unreadable, corrupt, has no video stream or no frames."""


class TimelineError(ScenesemError):
    """A timeline/EDL/XML cannot be read or written, or does not match its media."""


class CheckpointError(ScenesemError):
    """A model directory or checkpoint is missing, incomplete or not loadable."""


class DataError(ScenesemError):
    """A training manifest, dataset shard or annotation is malformed."""


class ReportError(ScenesemError):
    """The report cannot be written where asked (wrong extension, unwritable folder)."""
