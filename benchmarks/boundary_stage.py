"""The boundary stage alone, on frozen shot embeddings: variants × seeds in seconds (issue 15).

Usage:
    scenesem demo --workdir /tmp/demo                  # films + checkpoints (seed-N/ckpt-K)
    python benchmarks/boundary_stage.py /tmp/demo --ckpt seed-0/ckpt-1 [--seeds 5]

Each film of the demo workdir (training, validation and held-out splits, as `scenesem demo`
lays them out) is embedded once with the checkpoint, exactly as `cut` does, and cached beside
it (`shots.npz`). Then each variant of the second stage trains on the training films, is
calibrated on the validation films (θ and minimum scene for boundary F1) and decodes the
held-out films; rows give mean ± sd over boundary-model seeds of F1@0.5 s, mIoU and AP, next
to the cosine rule on the same embeddings (calibrated the same way).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def embedded_films(root: Path, ckpt: Path) -> dict[str, list]:
    """{split: [LabelledFilm]} for the demo's films, embedded once (as `train` embeds them
    for its second stage) and cached as npz."""
    import yaml

    from scenesem_otio.train.calibration import LabelledFilm, embed_films
    from scenesem_otio.train.sources import load_sources

    cache = ckpt / "shots.npz"
    films_dir = root / "films"
    items = load_sources([str(films_dir / "manifest.yaml")])
    split_of = {e["video"]: e["split"] for e in yaml.safe_load(
        (films_dir / "train.yaml").read_text())}
    if not cache.exists():
        from scenesem_otio.model.checkpoint import load_embedder

        films = embed_films(load_embedder(str(ckpt), device="cpu"), items)
        np.savez(cache, **{f"{key}{i}": np.asarray(value) for i, f in enumerate(films)
                           for key, value in (("emb", f.shot_embeddings),
                                              ("starts", f.shot_starts_s),
                                              ("dur", [f.duration_s]), ("truth", f.truth_s))})
    data = np.load(cache)
    out: dict[str, list] = {"train": [], "val": [], "test": []}
    for i, item in enumerate(items):
        film = LabelledFilm(data[f"emb{i}"], list(data[f"starts{i}"]),
                            float(data[f"dur{i}"][0]), list(data[f"truth{i}"]))
        out[split_of.get(Path(item.path).name, "test")].append(film)
    return out


def held_out_scores(films: list, scores: list[np.ndarray], threshold: float,
                    min_scene: float) -> dict[str, float]:
    """Decode like `cut` (θ, local max ±1, min scene) and score like `scenesem demo`."""
    from scenesem_otio.evaluate.metrics import Segmentation, overall, score
    from scenesem_otio.segment.decide import pick_boundaries

    rows = []
    for f, s in zip(films, scores):
        cuts = pick_boundaries(s, f.shot_starts_s, f.duration_s, threshold, 1, min_scene)
        starts = [0.0, *(f.shot_starts_s[k + 1] for k in cuts)]
        cand = list(zip(f.shot_starts_s[1:], s))
        pred = Segmentation(starts, f.duration_s, candidates=cand)
        rows.append(score(pred, Segmentation([0.0, *f.truth_s], f.duration_s)))
    o = overall(rows)
    return {"f1": o["f1"], "miou": o["miou"], "ap": o["ap"]}


def cosine_row(split: dict[str, list]) -> dict[str, float]:
    from scenesem_otio.train.calibration import calibration_of, cosine_scored

    calib = calibration_of(cosine_scored(split["val"]), "val")
    scored = cosine_scored(split["test"])
    return held_out_scores(split["test"], [s.scores for s in scored], calib.threshold,
                           calib.min_scene_s)


def boundary_row(split: dict[str, list], seed: int, **train_kwargs) -> dict[str, float]:
    """One variant of `train`'s second stage (`train.calibration.boundary_stage`) on one seed."""
    from scenesem_otio.train.calibration import boundary_stage

    members = int(train_kwargs.pop("ensemble", 1))
    # Which films the second stage learns from and which calibrate θ (swapped: it learns from
    # embeddings the contrastive stage never saw, as the held-out films' are).
    learn, tune = train_kwargs.pop("splits", ("train", "val"))
    model, calib, _ = boundary_stage(split[learn], split[tune], tune, seed, members,
                                     **train_kwargs)
    scores = [model.predict(f.shot_embeddings, f.shot_starts_s, f.duration_s)
              for f in split["test"]]
    return held_out_scores(split["test"], scores, calib.threshold, calib.min_scene_s)


VARIANTS: dict[str, dict] = {  # names without commas (--variants splits on them)
    "default": {},
    "ensemble 5": {"ensemble": 5},
    "no raw embedding": {"config": {"use_raw": False}},
    "no raw + ensemble 5": {"config": {"use_raw": False}, "ensemble": 5},
    "standardised": {"config": {"standardise": True}},
    "standardised + ensemble 5": {"config": {"standardise": True}, "ensemble": 5},
    "learn on val + θ on train": {"splits": ("val", "train")},
    "learn on val + θ on train + ens 5": {"splits": ("val", "train"), "ensemble": 5},
    "400 steps": {"steps": 400},
    "noise 0.8": {"noise": 0.8},
    "W 6": {"window": 6},
    "W 3": {"window": 3},
    "dropout 0.1": {"config": {"dropout": 0.1}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a `scenesem demo --workdir` folder")
    parser.add_argument("--ckpt", action="append", required=True,
                        help="checkpoint folder under root (repeatable)")
    parser.add_argument("--seeds", type=int, default=3, help="boundary-model seeds per row")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="names from VARIANTS, separated by commas")
    args = parser.parse_args()
    from scenesem_otio.model.precision import cpu_name

    print(f"CPU: {cpu_name()}")
    print(f"{'checkpoint':<18} {'variant':<28} {'F1':>13} {'mIoU':>13} {'AP':>13}")
    for name in args.ckpt:
        split = embedded_films(args.root, args.root / name)
        rows = {"cosine rule": [cosine_row(split)]}
        for v in args.variants.split(","):
            rows[v] = [boundary_row(split, s, **dict(VARIANTS[v])) for s in range(args.seeds)]
        for label, rs in rows.items():
            cells = []
            for m in ("f1", "miou", "ap"):
                vals = [r[m] for r in rs if r[m] is not None]
                cells.append(f"{np.mean(vals):.3f}±{np.std(vals):.3f}" if vals else "—")
            print(f"{name:<18} {label:<28} " + " ".join(f"{c:>13}" for c in cells))


if __name__ == "__main__":
    main()
