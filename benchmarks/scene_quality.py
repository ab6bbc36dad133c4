"""Training variants scored on the demo's held-out films, over training seeds (issue 15).

Usage:
    scenesem demo --workdir /tmp/demo                  # films, manifest, tiny VideoMAE
    python benchmarks/scene_quality.py /tmp/demo --seeds 0,1,2 [--variants "a|b"]

Each variant trains as `scenesem demo` does (`demo.run_config`: --unfreeze 2, lr-backbone
1e-4, 400 steps) and cuts the 8 held-out films as `scenesem cut` would, with the checkpoint's
boundary model and with the cosine rule on the same embeddings (both calibrated on the 4
validation films by training itself). Rows: mean ± sd over seeds of F1@0.5 s, mIoU, AP and F1
on the intercut/revisited scenes. Runs the demo already trained (seed-N/ckpt-K) are reused.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np

VARIANTS: dict[str, tuple[str, dict]] = {  # name -> (backbone, TrainConfig options)
    "tiny: stage, no folds": ("tiny", {"boundary_folds": 0}),
    "tiny: joint": ("tiny", {"boundary_training": "joint", "boundary_folds": 0}),
    "tiny: joint, weight 0.3": ("tiny", {"boundary_training": "joint", "boundary_folds": 0,
                                         "boundary_weight": 0.3}),
    "tiny: stage + 2 folds (default)": ("tiny", {}),
    "tiny: stage + 4 folds": ("tiny", {"boundary_folds": 4}),
    "embedded: stage, no folds": ("embedded", {"boundary_folds": 0}),
    "embedded: stage + 2 folds (default)": ("embedded", {}),
    "embedded: joint": ("embedded", {"boundary_training": "joint", "boundary_folds": 0}),
    "tiny: default without colour": ("tiny", {"boundary_colour": False}),
    "embedded: default without colour": ("embedded", {"boundary_colour": False}),
}
DEMO_CHECKPOINT = {"tiny: stage + 2 folds (default)": 1,
                   "embedded: stage + 2 folds (default)": 3}


def checkpoint(root: Path, name: str, seed: int, steps: int) -> Path:
    """Train the variant (or reuse the demo's run when its recorded settings are the same)."""
    from scenesem_otio.demo.run import run_config, trained_with
    from scenesem_otio.train.trainer import train

    base, options = VARIANTS[name]
    out = root / "quality" / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}-seed{seed}"
    model = str(root / "tiny-videomae") if base == "tiny" else "embedded"
    extra = {"cache_features": str(root / "quality" / "cache-embedded")} if (
        base == "embedded") else {}
    cfg = run_config(root / "films" / "train.yaml", out, model, steps, seed, False,
                     mapping="linear", **extra, **options)
    demo = root / f"seed-{seed}" / f"ckpt-{DEMO_CHECKPOINT.get(name, -1)}"
    if trained_with(demo, cfg):
        return demo
    if not (out / "scenesem.json").exists():
        train(cfg)
    return out


def rows_of(ckpt: Path, held_out: list) -> dict[str, dict]:
    from scenesem_otio.core.config import SegmentOptions
    from scenesem_otio.demo.run import evaluate_rules
    from scenesem_otio.model.checkpoint import load_embedder

    return evaluate_rules(held_out, load_embedder(str(ckpt), device="cpu"), {
        "boundary": SegmentOptions(), "cosine": SegmentOptions(boundary_model=False)})


def cell(runs: list[dict], rule: str, key: str) -> str:
    v = np.array([r[rule][key] for r in runs], np.float64)
    sd = np.std(v, ddof=1) if len(v) > 1 else 0.0
    return f"{np.mean(v):.3f} ± {sd:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a `scenesem demo --workdir` folder")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--variants", default="|".join(VARIANTS),
                        help="names from VARIANTS, separated by |")
    args = parser.parse_args()
    from scenesem_otio.demo.run import held_out_films
    from scenesem_otio.model.precision import cpu_name

    seeds = [int(s) for s in args.seeds.split(",")]
    held_out = held_out_films(args.root / "films")
    start = time.perf_counter()
    print(f"{cpu_name()}; {len(held_out)} held-out films; seeds {args.seeds}; "
          f"{args.steps} steps; mean ± sd over seeds")
    metrics = (("f1", "F1"), ("miou", "mIoU"), ("ap", "AP"), ("f1_special", "F1 ic/rv"))
    print(f"{'variant':<30}" + "".join(f"{n:>15}" for _, n in metrics)
          + f"{'cosine F1':>15}  per seed F1")
    for name in args.variants.split("|"):
        runs = [rows_of(checkpoint(args.root, name, s, args.steps), held_out) for s in seeds]
        each = " ".join(f"{r['boundary']['f1']:.3f}" for r in runs)
        print(f"{name:<30}" + "".join(f"{cell(runs, 'boundary', k):>15}" for k, _ in metrics)
              + f"{cell(runs, 'cosine', 'f1'):>15}  {each}", flush=True)
    print(f"wall time {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
