"""Does the text earn its place? α, the mapping and the similarity window (a, b) of SPEC §3.3,
swept on the validation split over training seeds (issue 15, item 4).

Usage:
    scenesem demo --workdir /tmp/demo                   # films, manifest, tiny VideoMAE
    python benchmarks/text_guidance.py /tmp/demo --seeds 0,1,2 [--steps 400]

Each setting trains as `scenesem demo` does (tiny VideoMAE, `--unfreeze 2`, lr-backbone 1e-4,
the boundary stage) and reads what training itself measured on the validation films: boundary
F1 at the calibrated θ and minimum scene, for the boundary model and for the cosine rule. No
held-out film is looked at, so the default can follow these rows without tuning to the test.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SETTINGS: dict[str, dict] = {
    "visual only (α=0)": {"alpha": 0.0},
    "linear α=0.5": {"alpha": 0.5},
    "linear α=1 (default)": {},
    "linear α=2": {"alpha": 2.0},
    "squared α=1": {"mapping": "squared"},
    "linear α=1, window 25–75": {"text_window": (25.0, 75.0)},
    "linear α=1, window 0–100": {"text_window": (0.0, 100.0)},
}


# Settings `scenesem demo` trains itself (seed-N/ckpt-K): reused when their settings match.
DEMO_CHECKPOINT = {"visual only (α=0)": 0, "linear α=1 (default)": 1, "squared α=1": 2}


def run(root: Path, name: str, options: dict, seed: int, steps: int) -> dict[str, float]:
    import re

    from scenesem_otio.demo.run import run_config, trained_with
    from scenesem_otio.train.trainer import train

    out = root / "text-sweep" / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}-seed{seed}"
    cfg = run_config(root / "films" / "train.yaml", out, str(root / "tiny-videomae"), steps,
                     seed, False, **options)
    demo = root / f"seed-{seed}" / f"ckpt-{DEMO_CHECKPOINT.get(name, -1)}"
    if trained_with(demo, cfg):
        out = demo
    elif not (out / "scenesem.json").exists():
        train(cfg)
    meta = json.loads((out / "scenesem.json").read_text())
    record = meta.get("record", meta)
    cosine = record.get("cosine_calibration") or {}
    return {"boundary": float(meta.get("calibration_f1") or np.nan),
            "cosine": float(cosine.get("f1") or np.nan)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a `scenesem demo --workdir` folder")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--settings", default="|".join(SETTINGS),
                        help="names from SETTINGS, separated by |")
    args = parser.parse_args()
    from scenesem_otio.model.precision import cpu_name

    seeds = [int(s) for s in args.seeds.split(",")]
    start = time.perf_counter()
    print(f"{cpu_name()}; validation boundary F1 (±0.5 s) at the calibrated θ; "
          f"seeds {args.seeds}; {args.steps} steps")
    print(f"{'setting':<28} {'boundary model':>22} {'cosine rule':>22}  per seed (boundary)")
    for name in args.settings.split("|"):
        rows = [run(args.root, name, SETTINGS[name], s, args.steps) for s in seeds]
        cells = []
        for key in ("boundary", "cosine"):
            v = np.array([r[key] for r in rows])
            sd = np.std(v, ddof=1) if len(v) > 1 else 0.0
            cells.append(f"{np.mean(v):.3f} ± {sd:.3f}")
        each = " ".join(f"{r['boundary']:.3f}" for r in rows)
        print(f"{name:<28} {cells[0]:>22} {cells[1]:>22}  {each}", flush=True)
    print(f"wall time {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
