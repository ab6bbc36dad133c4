"""Batch stage 3: who runs `FilmCutter.cut` on which film. Two engines, one per-film code path.

- local: worker processes on this machine (spawned, so CUDA and torch start clean), one per
  `CPU_THREADS_PER_WORKER` cores and at least one per GPU, each loading the model once;
- ray: Ray actors that are `FilmCutter`s (Ray's batch-inference idiom: a stateful actor holds
  the model, films stream through it), sized the same over the cluster's CPUs and GPUs, on a
  cluster joined with `--ray-address` or on a local Ray started and stopped here.

Both keep exactly one film in flight per worker, so when a worker dies (a decoder crash, the
OOM killer) the film it was cutting is known: it is recorded as failed, the worker replaced,
and the batch goes on. Each engine yields `FilmRecord`s as films finish.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from scenesem_otio.batch.job import BatchOutputs, FilmCutter
from scenesem_otio.batch.ledger import FAILED, WORKER_DIED, FilmRecord
from scenesem_otio.batch.plan import FilmJob
from scenesem_otio.core.config import CutOptions
from scenesem_otio.core.errors import ScenesemError

ENGINES = ("local", "ray")
# CPU-only workers: decoding and shot detection are mostly one thread per film, the model
# forward pass scales to a few; two threads each kept the most films per hour per core.
CPU_THREADS_PER_WORKER = 2


@dataclass(frozen=True)
class Workers:
    """How many workers, and what each one gets."""

    count: int
    threads: int  # CPU threads for torch in each worker
    gpus: float  # GPUs per worker (0: CPU workers)

    def describe(self) -> str:
        gpu = f", {self.gpus:.2g} GPU each" if self.gpus else ""
        return f"{self.count} worker{'s' * (self.count != 1)} x {self.threads} threads{gpu}"


def size_workers(cpus: int, gpus: int, count: int | None = None) -> Workers:
    """One worker per CPU_THREADS_PER_WORKER cores, and at least one per GPU.

    With GPUs the workers share them (a fraction each): the backbone is fast there and each
    film's decode and shot detection on the CPU becomes the limit, so a GPU is kept fed by
    several workers decoding side by side. `count` overrides the number.
    """
    cpus = max(1, cpus)
    n = count or max(gpus, cpus // CPU_THREADS_PER_WORKER, 1)
    return Workers(n, max(1, cpus // n), min(1.0, gpus / n) if gpus > 0 else 0.0)


@dataclass(frozen=True)
class CutterArgs:
    """What every worker needs to build its FilmCutter (pickled once per worker)."""

    options: CutOptions
    outputs: BatchOutputs
    key: str


def died(job: FilmJob, args: CutterArgs) -> FilmRecord:
    return FilmRecord(film=job.name, input=job.source, status=FAILED, error=WORKER_DIED,
                      model=str(args.options.runtime.model), input_key=job.input_key,
                      options_key=args.key,
                      finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def local_cpus() -> int:
    """CPU cores this process may use (its affinity mask, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def local_gpus(options: CutOptions) -> int:
    if options.runtime.device == "cpu":
        return 0
    import torch

    return torch.cuda.device_count()


# ---- local: a process pool whose initializer loads the model once per worker
_cutter: FilmCutter | None = None


def _start_worker(args: CutterArgs, threads: int, devices: Any) -> None:
    global _cutter
    device = devices.get()
    if device is not None:  # before torch is imported in this process
        os.environ["CUDA_VISIBLE_DEVICES"] = str(device)
    _cutter = FilmCutter(args.options, args.outputs, args.key, threads=threads)


def _cut(job: FilmJob) -> FilmRecord:
    assert _cutter is not None, "worker not initialised"
    return _cutter.cut(job)


class LocalEngine:
    """Films through a pool of spawned worker processes on this machine; a pool broken by a
    dying worker fails the films in flight and a new pool takes the rest."""

    name = "local"

    def __init__(self, args: CutterArgs, count: int | None = None) -> None:
        self.args = args
        self.gpus = local_gpus(args.options)
        self.workers = size_workers(local_cpus(), self.gpus, count)

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(self, jobs: Iterable[FilmJob]) -> Iterator[FilmRecord]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        ctx = multiprocessing.get_context("spawn")
        args, workers = self.args, self.workers
        pending = deque(jobs)
        while pending:
            devices = ctx.Queue()
            for i in range(workers.count):
                devices.put(i % self.gpus if self.gpus else None)
            with ProcessPoolExecutor(workers.count, mp_context=ctx, initializer=_start_worker,
                                     initargs=(args, workers.threads, devices)) as pool:
                running: dict[Any, FilmJob] = {}
                broken = False
                while (pending or running) and not broken:
                    while pending and len(running) < workers.count:
                        job = pending.popleft()
                        running[pool.submit(_cut, job)] = job
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        job = running.pop(future)
                        try:
                            yield future.result()
                        except BrokenProcessPool:
                            broken = True
                            yield died(job, args)
                for future, job in running.items():  # the pool broke under these too
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        yield died(job, args)


# ---- ray: FilmCutter actors, one film in flight each
def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ScenesemError("--engine ray needs Ray: pip install 'scenesem-otio[ray]'") from None
    return ray


def check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail in seconds on a cluster address nobody answers at: `ray.init` would retry for
    minutes, filling the terminal with its reconnection warnings. `auto`, `local` and none
    (a local Ray) are Ray's to resolve."""
    if not address or address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ScenesemError(f"--ray-address {address}: give HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ScenesemError(f"--ray-address {address}: no Ray cluster answers there "
                            f"({reason})") from None


class RayEngine:
    """Films through FilmCutter actors on a Ray cluster (`address`), on the Ray session this
    process already has, or on a local Ray started for the batch and stopped after it."""

    name = "ray"

    def __init__(self, args: CutterArgs, count: int | None = None,
                 address: str | None = None) -> None:
        self.args, self.count, self.address = args, count, address
        self.ray = import_ray()
        self.started = False
        self.actors: list[Any] = []

    def __enter__(self) -> RayEngine:
        ray = self.ray
        if not ray.is_initialized():
            check_reachable(self.address)
            try:
                ray.init(address=self.address, include_dashboard=False,
                         logging_level=logging.ERROR,
                         log_to_driver=logging.getLogger().isEnabledFor(logging.INFO))
            except ConnectionError as err:
                raise ScenesemError(f"--ray-address {self.address}: {err}") from None
            self.started = True
        resources = ray.cluster_resources()
        gpus = 0 if self.args.options.runtime.device == "cpu" else int(resources.get("GPU", 0))
        self.workers = size_workers(int(resources.get("CPU", 1)), gpus, self.count)
        return self

    def __exit__(self, *exc: object) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors.clear()
        if self.started:
            self.ray.shutdown()

    def _new_actor(self) -> Any:
        w, a = self.workers, self.args
        actor_class = self.ray.remote(FilmCutter).options(num_cpus=w.threads, num_gpus=w.gpus)
        actor = actor_class.remote(a.options, a.outputs, a.key, w.threads)
        self.actors.append(actor)
        return actor

    def run(self, jobs: Iterable[FilmJob]) -> Iterator[FilmRecord]:
        ray = self.ray
        from ray.exceptions import RayActorError, RayTaskError

        idle = [self._new_actor() for _ in range(self.workers.count)]
        pending = deque(jobs)
        running: dict[Any, tuple[Any, FilmJob]] = {}
        while pending or running:
            while pending and idle:
                actor, job = idle.pop(), pending.popleft()
                running[actor.cut.remote(job)] = (actor, job)
            ready, _ = ray.wait(list(running), num_returns=1)
            actor, job = running.pop(ready[0])
            try:
                record = ray.get(ready[0])
            except RayActorError:  # the actor's process died: replace it, go on
                ray.kill(actor)
                self.actors.remove(actor)
                idle.append(self._new_actor())
                yield died(job, self.args)
                continue
            except RayTaskError as err:  # FilmCutter.cut raises only when the model won't load
                if isinstance(err.cause, ScenesemError):
                    raise err.cause from None
                raise
            idle.append(actor)
            yield record
