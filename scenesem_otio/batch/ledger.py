"""Batch state: `OUTDIR/batch.jsonl`, one JSON line per film, appended as each film finishes.

The ledger is what makes a batch resumable. A film's line is appended only after all its
outputs are in place (each written atomically), so a line `done` means complete outputs. A
killed batch leaves at worst a torn last line, which reading skips; each run starts by
rewriting the ledger with one line per film (the newest), so lines never pile up.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from scenesem_otio.core.fileio import write_text_atomic

LEDGER = "batch.jsonl"
DONE, FAILED = "done", "failed"
# The error of a film whose worker died under it: maybe not the film's fault, so always retried.
WORKER_DIED = "the worker process died while cutting it (crash or out of memory)"


@dataclass
class FilmRecord:
    """A film's outcome: one ledger line."""

    film: str  # output name (OUTDIR/film.otio, …)
    input: str  # path or URI as given
    status: str  # DONE or FAILED
    scenes: int | None = None
    shots: int | None = None
    seconds: float | None = None  # the film's duration
    model: str | None = None
    error: str | None = None  # one line, for FAILED
    wall_s: float | None = None  # time spent cutting it
    outputs: list[str] = field(default_factory=list)  # relative to OUTDIR
    input_key: str = ""  # size:mtime_ns of the input when cut
    options_key: str = ""  # hash of the options and model it was cut with
    finished: str = ""  # UTC time, ISO 8601

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> FilmRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Ledger:
    """The films already handled in OUTDIR, newest record per film, and the file to append."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / LEDGER
        self.records: dict[str, FilmRecord] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    record = FilmRecord.from_dict(json.loads(line))
                except (ValueError, TypeError):  # a line torn by a kill
                    continue
                self.records[record.film] = record

    def compact(self) -> None:
        """Rewrite the file atomically with one line per film."""
        write_text_atomic(self.path, "".join(r.to_json() + "\n"
                                             for r in self.records.values()))

    def append(self, record: FilmRecord) -> None:
        """Record one film now, durably: a kill right after loses nothing."""
        self.records[record.film] = record
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(record.to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())

    def settled(self, name: str, input_key: str, options_key: str, out_dir: Path,
                retry_failed: bool = False) -> FilmRecord | None:
        """The film's record when this very file was already handled with these options:
        cut (and its outputs are all there), or failed for a reason of its own (a broken file
        stays broken; `retry_failed` tries again). None: the film is to be cut."""
        r = self.records.get(name)
        if r is None or r.input_key != input_key or r.options_key != options_key:
            return None
        if r.status == DONE:
            return r if all((out_dir / p).is_file() for p in r.outputs) else None
        return None if retry_failed or r.error == WORKER_DIED else r
