"""Adapting to unlabelled footage: pseudo-scenes (BaSSL-style votes) then visual-only training,
scored on the demo's held-out films against the untrained model (issue 15, item 5).

Usage:
    scenesem demo --workdir /tmp/demo
    python benchmarks/pseudo_labels.py /tmp/demo --seeds 0,1,2

The demo's 20 training + validation films are treated as unlabelled: `scenesem pseudo-label`
(`train.pseudo.write_pseudo_projects`) cuts them with the embedded model, and the embedded
model trains on those pseudo projects as the demo trains (`demo.run_config`, 400 steps) with
α = 0; θ is calibrated on the pseudo validation films, so no truth is used anywhere. Rows:
the pseudo-labels' own F1 against the truth, then held-out F1 / mIoU / AP of the untrained
embedded model (θ at the 80th percentile: what a user without labels gets) and of the
adapted one (boundary model and cosine rule).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a `scenesem demo --workdir` folder")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--method", default=None, help="cosine or dtw (default: pseudo-label's)")
    parser.add_argument("--window", type=int, default=None, help="W (default: pseudo-label's)")
    parser.add_argument("--min-votes", type=float, default=None)
    args = parser.parse_args()
    import yaml

    from scenesem_otio.adapters.formats import read_timeline
    from scenesem_otio.adapters.timeline import scenes_from_timeline
    from scenesem_otio.core.config import CutOptions, SegmentOptions
    from scenesem_otio.demo.run import as_segmentation, evaluate, held_out_films, run_config
    from scenesem_otio.evaluate.metrics import boundary_prf
    from scenesem_otio.model.checkpoint import load_embedder
    from scenesem_otio.model.precision import cpu_name
    from scenesem_otio.pipeline import cut
    from scenesem_otio.train.pseudo import write_pseudo_projects
    from scenesem_otio.train.trainer import train

    start = time.perf_counter()
    films = args.root / "films"
    entries = yaml.safe_load((films / "train.yaml").read_text())
    from scenesem_otio.train import pseudo

    window = pseudo.WINDOW if args.window is None else args.window
    min_votes = pseudo.MIN_VOTES if args.min_votes is None else args.min_votes
    method = args.method or pseudo.DEFAULT_METHOD
    out = args.root / (f"pseudo-{method}" if method == "cosine" else
                       f"pseudo-{method}-w{window}-v{min_votes:g}")
    embedded = load_embedder("embedded", device="cpu")
    manifest = out / "manifest.yaml"
    if not manifest.exists():
        write_pseudo_projects([films / e["video"] for e in entries], out, embedded,
                              method=method, window=window, min_votes=min_votes,
                              progress=False)
    hits = n_pred = n_true = 0
    for e in entries:
        truth = [s.start / 25.0 for s in scenes_from_timeline(read_timeline(
            films / e["timeline"]))][1:]
        pseudo = [s.start / 25.0 for s in scenes_from_timeline(read_timeline(
            out / f"{Path(e['video']).stem}.pseudo.otio"))][1:]
        m = boundary_prf(pseudo, truth, 0.5)
        hits, n_pred, n_true = hits + m["hits"], n_pred + m["n_pred"], n_true + m["n_truth"]
    p, r = hits / max(n_pred, 1), hits / max(n_true, 1)
    print(f"{cpu_name()}; {out.name}; pseudo-labels of "
          f"{len(entries)} films vs their truth: "
          f"P {p:.3f} R {r:.3f} F1 {2 * p * r / max(p + r, 1e-9):.3f}")
    held_out = held_out_films(films)

    def row(model, options) -> dict:
        return evaluate(held_out, lambda v: as_segmentation(cut(v, options, embedder=model)))

    rows = {"untrained embedded, θ 80th percentile":
            [row(embedded, CutOptions(progress=False))]}
    for seed in [int(s) for s in args.seeds.split(",")]:
        ckpt = out / f"ckpt-seed{seed}"
        if not (ckpt / "scenesem.json").exists():
            train(run_config(manifest, ckpt, "embedded", args.steps, seed, False, alpha=0.0,
                             cache_features=str(out / "cache")))
        model = load_embedder(str(ckpt), device="cpu")
        rows.setdefault("adapted: boundary model", []).append(row(model, CutOptions(
            progress=False)))
        rows.setdefault("adapted: cosine rule", []).append(row(model, CutOptions(
            segment=SegmentOptions(boundary_model=False), progress=False)))
    print(f"{'held-out films':<40}" + "".join(f"{m:>15}" for m in ("F1", "mIoU", "AP")))
    for label, rs in rows.items():
        cells = []
        for m in ("f1", "miou", "ap"):
            v = np.array([x[m] for x in rs if x[m] is not None], np.float64)
            sd = np.std(v, ddof=1) if len(v) > 1 else 0.0
            cells.append(f"{np.mean(v):.3f} ± {sd:.3f}" if len(v) else "—")
        print(f"{label:<40}" + "".join(f"{c:>15}" for c in cells), flush=True)
    print(f"wall time {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
