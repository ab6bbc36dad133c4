"""Films per hour through `scenesem batch`: the local engine against Ray on the same films.

Usage:
    python benchmarks/batch.py                          # 6 copies of test.mp4, embedded model
    python benchmarks/batch.py --copies 12 --model ./ckpt --engines local,ray
    python benchmarks/batch.py --film film.mp4 --workers 2
    python benchmarks/batch.py --device cuda --copies 64   # the GPU rows (one worker per GPU)

Each engine cuts the same N copies of one film into its own fresh folder with `run_batch`
(what `scenesem batch` runs). A row gives the batch's wall time from the call to the last
ledger line (planning, starting workers or Ray, loading the model in each, cutting), the
films/hour and minutes of video per minute that follow, and the overhead: wall time minus the
films' own cut time divided over the workers, i.e. what the engine adds (Ray's start-up, actor
creation, spawning processes and loading the model in each).

The film defaults to transnetv2's test.mp4 (212 s) from the tests' cache (~/.cache/
scenesem-tests, filled by `pytest tests/test_batch.py`), else a 60 s 320x180 film rendered here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

CACHE = Path(os.environ.get("SCENESEM_TEST_CACHE", Path.home() / ".cache" / "scenesem-tests"))


def default_film(work: Path) -> Path:
    cached = CACHE / "test.mp4"
    if cached.exists():
        return cached
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pipeline import make_film

    film = work / "film_60s.mp4"
    make_film(film, 1.0, width=320, height=180)
    return film


def run_row(engine: str, films: Path, out: Path, options, workers: int | None) -> dict:
    from scenesem_otio.batch.run import run_batch

    start = time.perf_counter()
    summary = run_batch([str(films)], out, options, engine=engine, workers=workers,
                        progress=False)
    wall = time.perf_counter() - start
    done = summary.done
    n_workers = summary.workers.count if summary.workers else 1
    film_s = sum(r.wall_s or 0.0 for r in done)
    video_s = sum(r.seconds or 0.0 for r in done)
    return {"engine": engine, "workers": summary.workers.describe() if summary.workers else "-",
            "films": len(done), "failed": len(summary.failed), "wall": wall,
            "films_per_hour": len(done) / wall * 3600, "video_per_min": video_s / wall,
            "overhead": wall - film_s / n_workers, "per_film": film_s / max(len(done), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--film", type=Path, default=None)
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from scenesem_otio.core.config import CutOptions, RuntimeOptions
    from scenesem_otio.media.probe import probe
    from scenesem_otio.model.choose import choose_model
    from scenesem_otio.model.precision import cpu_name

    model, reason = choose_model(args.model)
    options = CutOptions(runtime=RuntimeOptions(model=model, model_choice=reason,
                                                device=args.device), progress=False)
    with tempfile.TemporaryDirectory(prefix="scenesem-batch-bench-") as tmp:
        work = Path(tmp)
        film = args.film or default_film(work)
        films = work / "films"
        films.mkdir()
        for i in range(args.copies):  # copies, not links: each is its own file to read
            shutil.copy(film, films / f"film_{i:03d}{film.suffix}")
        info = probe(film)
        print(f"{args.copies} copies of {film.name} ({info.duration_s:.0f} s, "
              f"{info.width}x{info.height}); model: {reason}; device {args.device}; "
              f"{os.cpu_count()} CPUs ({cpu_name()}), load average "
              f"{os.getloadavg()[0]:.1f}")
        print(f"{'engine':<7} {'workers':<26} {'films':>5} {'wall s':>7} {'films/h':>8} "
              f"{'video min/min':>13} {'s/film':>7} {'overhead s':>10}")
        for engine in args.engines.split(","):
            row = run_row(engine, films, work / f"out_{engine}", options, args.workers)
            print(f"{row['engine']:<7} {row['workers']:<26} {row['films']:>5} "
                  f"{row['wall']:>7.1f} {row['films_per_hour']:>8.0f} "
                  f"{row['video_per_min']:>13.2f} {row['per_film']:>7.1f} "
                  f"{row['overhead']:>10.1f}" + (f"  ({row['failed']} failed)"
                                                  if row["failed"] else ""))


if __name__ == "__main__":
    main()
