"""The batch from end to end: plan -> skip what the ledger has -> engine -> ledger -> index.

Safe to kill at any moment and to run again: only one batch writes to an OUTDIR at a time
(a lock file), leftovers of atomic writes cut short are swept first, and a film counts as done
only when its ledger line is written, after all its outputs.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scenesem_otio.batch.engines import ENGINES, CutterArgs, LocalEngine, RayEngine, Workers
from scenesem_otio.batch.index import write_index
from scenesem_otio.batch.job import BatchOutputs, options_key
from scenesem_otio.batch.ledger import DONE, FAILED, FilmRecord, Ledger
from scenesem_otio.batch.plan import plan_films
from scenesem_otio.core.config import CutOptions
from scenesem_otio.core.errors import ScenesemError

LOCK = ".batch.lock"
# fileio's temp names: ".NAME.XXXX.tmp.otio" (atomic_path), ".NAME.XXXX.tmp" (atomic_dir)
_PARTIAL = re.compile(r"^\..+\.tmp(\.[^.]+)?$")


@dataclass
class BatchSummary:
    """What one `scenesem batch` run did."""

    out_dir: Path
    engine: str
    workers: Workers | None  # None: nothing to do, no engine started
    planned: int
    skipped: int
    records: list[FilmRecord] = field(default_factory=list)  # films cut (or failed) this run
    failed_before: list[FilmRecord] = field(default_factory=list)  # skipped: failed earlier
    wall_s: float = 0.0

    @property
    def done(self) -> list[FilmRecord]:
        return [r for r in self.records if r.status == DONE]

    @property
    def failed(self) -> list[FilmRecord]:
        """Films of this batch that are not cut: failed now, or earlier and not retried."""
        return [r for r in self.records if r.status == FAILED] + self.failed_before

    @property
    def video_s(self) -> float:
        return sum(r.seconds or 0.0 for r in self.done)

    def table(self) -> str:
        minutes = max(self.wall_s, 1e-9) / 60
        rows = {
            "films": f"{self.planned} ({len(self.done)} cut, "
                     f"{self.skipped - len(self.failed_before)} already done, "
                     f"{len(self.failed)} failed"
                     + (f", {len(self.failed_before)} of them earlier: --retry-failed to try "
                        "again)" if self.failed_before else ")"),
            "video": f"{self.video_s / 60:.1f} min in {minutes:.1f} min "
                     f"({self.video_s / 60 / minutes:.1f} min of video per min, "
                     f"{len(self.records) / minutes * 60:.0f} films/hour)",
            "engine": f"{self.engine}: {self.workers.describe()}" if self.workers
                      else f"{self.engine}: not started (nothing to do)",
            "ledger": self.out_dir / "batch.jsonl",
            "index": self.out_dir / "index.html",
        }
        return "\n".join(f"{k:<7} {v}" for k, v in rows.items())


def parse_formats(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`otio,edl` -> ('.otio', '.edl'): timeline suffixes `write_timeline` knows."""
    from scenesem_otio.adapters.formats import WRITERS

    items = text.split(",") if isinstance(text, str) else list(text)
    suffixes = tuple(dict.fromkeys("." + s.strip().lower().lstrip(".") for s in items
                                   if s.strip()))
    unknown = [s for s in suffixes if s not in WRITERS]
    if unknown or not suffixes:
        raise ScenesemError(f"--format {','.join(unknown) or '(none)'}: unknown timeline "
                            f"format; use some of {','.join(w[1:] for w in WRITERS)}")
    return suffixes


def run_batch(inputs: list[str], out_dir: Path, options: CutOptions = CutOptions(), *,
              formats: str | tuple[str, ...] = "otio", report: bool = False,
              engine: str = "local", workers: int | None = None,
              ray_address: str | None = None, redo: bool = False,
              retry_failed: bool = False, progress: bool = True) -> BatchSummary:
    """Cut every film of `inputs` into OUTDIR; films already cut the same way are skipped."""
    if engine not in ENGINES:
        raise ScenesemError(f"--engine {engine}: use one of {', '.join(ENGINES)}")
    start = time.perf_counter()
    out_dir = Path(out_dir).absolute()  # workers may run elsewhere (cwd, Ray nodes)
    outputs = BatchOutputs(out_dir, parse_formats(formats), report)
    options = replace(options, progress=False)  # one bar for the batch, not one per film
    out_dir.mkdir(parents=True, exist_ok=True)
    with _only_batch_in(out_dir):
        _sweep_partial(out_dir)
        jobs = plan_films(inputs, exclude=out_dir)
        if not jobs:
            raise ScenesemError(f"{' '.join(inputs)}: no video files found")
        key = options_key(options, outputs)
        ledger = Ledger(out_dir)
        ledger.compact()
        settled = {j.name: None if redo else
                   ledger.settled(j.name, j.input_key, key, out_dir, retry_failed)
                   for j in jobs}
        todo = [j for j in jobs if settled[j.name] is None]
        summary = BatchSummary(out_dir, engine, None, len(jobs), len(jobs) - len(todo))
        summary.failed_before = [r for r in settled.values()
                                 if r is not None and r.status == FAILED]
        if todo:
            args = CutterArgs(options, outputs, key)
            runner = (RayEngine(args, workers, ray_address) if engine == "ray"
                      else LocalEngine(args, workers))
            with runner as running, BatchProgress(len(jobs), summary.skipped,
                                                  progress) as bar:
                summary.workers = running.workers
                for record in running.run(todo):
                    ledger.append(record)
                    summary.records.append(record)
                    bar.film(record)
        ledger.compact()
        write_index(out_dir, list(ledger.records.values()))
    summary.wall_s = time.perf_counter() - start
    return summary


@contextlib.contextmanager
def _only_batch_in(out_dir: Path) -> Iterator[None]:
    """Hold OUTDIR's lock for the batch: two batches appending to one ledger would mix it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(out_dir / LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScenesemError(f"{out_dir}: another scenesem batch is writing here") from None
        yield


def _sweep_partial(out_dir: Path) -> None:
    """Remove temp files a killed batch left mid-write (a kill skips fileio's cleanup)."""
    for path in out_dir.rglob(".*.tmp*"):
        if not _PARTIAL.match(path.name):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


class BatchProgress:
    """One bar for the whole batch: films done/failed, minutes of video per minute."""

    def __init__(self, total: int, skipped: int, enabled: bool = True) -> None:
        self.total, self.skipped, self.enabled = total, skipped, enabled
        self.done = self.failed = 0
        self.video_s = 0.0
        self.start = time.perf_counter()
        self.bar: Any = None  # a rich Progress while shown

    def __enter__(self) -> BatchProgress:
        if self.enabled:
            import sys

            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("[bold]films"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                                TextColumn("eta"), TimeRemainingColumn(),
                                console=Console(file=sys.stderr))
            self.bar.start()
            self.task = self.bar.add_task("films", total=self.total, completed=self.skipped,
                                          counts=self._counts())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def _counts(self) -> str:
        minutes = (time.perf_counter() - self.start) / 60
        rate = self.video_s / 60 / minutes if minutes > 0 else 0.0
        return (f"{self.done} done, {self.failed} failed, {self.skipped} skipped, "
                f"{rate:.1f} min of video/min")

    def film(self, record: FilmRecord) -> None:
        if record.status == DONE:
            self.done += 1
            self.video_s += record.seconds or 0.0
        else:
            self.failed += 1
        if self.bar is not None:
            if record.status != DONE:
                self.bar.console.print(f"failed {record.film}: {record.error}")
            self.bar.update(self.task, advance=1, counts=self._counts())
