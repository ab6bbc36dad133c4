"""Batch stage 2: the per-film work, the same in every engine.

`FilmCutter` holds the model, loaded once, and cuts one film after another with `pipeline.cut`
(the very code `scenesem cut` runs), then writes the film's timelines. A local worker process
builds one in its initializer; a Ray actor *is* one (`ray.remote(FilmCutter)`). A film that
fails leaves no output behind and comes back as a `failed` record with its one-line error.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from scenesem_otio.batch.ledger import DONE, FAILED, FilmRecord
from scenesem_otio.batch.plan import FilmJob
from scenesem_otio.core.config import CutOptions
from scenesem_otio.core.errors import MediaError, ScenesemError


class WorkerSetupError(ScenesemError):
    """A worker could not load the model: the whole batch stops (no film could be cut)."""


@dataclass(frozen=True)
class BatchOutputs:
    """What each film gets in OUTDIR: timelines in `formats` (suffixes), and maybe a report."""

    out_dir: Path
    formats: tuple[str, ...] = (".otio",)
    report: bool = False

    def timelines(self, name: str) -> list[Path]:
        return [self.out_dir / f"{name}{suffix}" for suffix in self.formats]

    def report_path(self, name: str) -> Path | None:
        return self.out_dir / f"{name}.html" if self.report else None

    def paths(self, name: str) -> list[Path]:
        report = self.report_path(name)
        return self.timelines(name) + ([report] if report is not None else [])


def options_key(options: CutOptions, outputs: BatchOutputs) -> str:
    """A hash of everything that shapes a film's outputs: a rerun with other options, another
    model or other formats cuts the films again, an identical one skips them."""
    cut = asdict(replace(options, progress=False,
                         runtime=replace(options.runtime, model_choice=None),
                         output=replace(options.output, report=None)))
    data = {"cut": cut, "formats": list(outputs.formats), "report": outputs.report,
            "model": model_fingerprint(options.runtime.model)}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_fingerprint(model: str | None) -> list[str] | str:
    """A model directory by its files' names, sizes and times (retrained in place: redo);
    anything else (a hub id, `embedded`) by its name."""
    if model is None or not Path(model).is_dir():
        return str(model)
    root = Path(model)
    return sorted(f"{p.relative_to(root).as_posix()}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                  for p in root.rglob("*") if p.is_file())


def one_line(err: BaseException) -> str:
    """The first line of an error, as the ledger and the summary show it."""
    text = str(err).strip()
    line = text.splitlines()[0] if text else ""
    if not isinstance(err, ScenesemError):
        line = f"{type(err).__name__}: {line}" if line else type(err).__name__
    return line[:300]


class FilmCutter:
    """One worker's model and the per-film work. Construct once per worker, call `cut` per film.

    A model that will not load is kept as an error and raised on the first film
    (`WorkerSetupError`), so the driver stops with that one line instead of a dead pool.
    """

    def __init__(self, options: CutOptions, outputs: BatchOutputs, key: str,
                 threads: int | None = None) -> None:
        self.options = replace(options, progress=False)
        self.outputs = outputs
        self.key = key
        self.embedder = None
        self.setup_error: str | None = None
        try:
            self.embedder = load_worker_model(self.options, threads)
        except Exception as err:
            self.setup_error = one_line(err)

    def cut(self, job: FilmJob) -> FilmRecord:
        """Cut one film and write its outputs; never raises for a bad film."""
        if self.setup_error is not None:
            raise WorkerSetupError(f"cannot load the model: {self.setup_error}")
        from scenesem_otio.adapters.formats import write_timeline
        from scenesem_otio.pipeline import cut

        start = time.perf_counter()
        record = FilmRecord(film=job.name, input=job.source, status=FAILED,
                            model=str(self.options.runtime.model), input_key=job.input_key,
                            options_key=self.key)
        out = self.outputs
        try:
            if job.path is None:
                raise MediaError(f"{job.source}: only local paths and file:// URIs can be read "
                                 "(mount the storage where the workers run and list paths)")
            report = out.report_path(job.name)
            options = replace(self.options, output=replace(self.options.output, report=report))
            result = cut(job.path, options, embedder=self.embedder)
            for path in out.timelines(job.name):
                write_timeline(result.timeline, path,
                               resolve_markers=options.output.resolve_markers)
        except Exception as err:  # one bad film must not stop the thousands after it
            for path in out.paths(job.name):  # none of its outputs stays, old or new
                path.unlink(missing_ok=True)
            record.error = one_line(err)
        else:
            record.status = DONE
            record.scenes, record.shots = len(result.scenes), len(result.shots)
            record.seconds = round(result.info.duration_s, 3)
            record.outputs = [p.relative_to(out.out_dir).as_posix()
                              for p in out.paths(job.name)]
        record.wall_s = round(time.perf_counter() - start, 3)
        record.finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return record


def load_worker_model(options: CutOptions, threads: int | None = None):  # -> SceneEmbedder
    """The embedder a worker keeps for all its films, with cut's speed options applied."""
    import torch

    from scenesem_otio.model.backbone import apply_speed_options
    from scenesem_otio.model.checkpoint import load_embedder

    if threads:
        torch.set_num_threads(threads)
    rt = options.runtime
    embedder = load_embedder(rt.model, device=rt.device, precision=rt.precision,
                             choice=rt.model_choice)
    apply_speed_options(embedder, rt)
    return embedder

