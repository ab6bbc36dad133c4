"""`scenesem demo`: the whole system, offline, in minutes on a CPU.

synth films -> train a tiny VideoMAE (visual-only and text-guided, linear and squared) ->
cut held-out films -> score against truth and against PySceneDetect. The backbone is randomly
initialised (no hub), so this proves the training signal, not pretrained quality.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scenesem_otio.evaluate.metrics import Segmentation, boundary_prf, miou, overall, prf, score

if TYPE_CHECKING:
    from scenesem_otio.core.config import CutOptions
    from scenesem_otio.core.scenes import Scene
    from scenesem_otio.embed import FilmEmbedding
    from scenesem_otio.model.embedder import SceneEmbedder
    from scenesem_otio.pipeline import CutResult
    from scenesem_otio.train.config import TrainConfig

SPECIAL = ("intercut", "revisit")
PYSCENEDETECT = "PySceneDetect (shots as scenes)"
UNTRAINED = "untrained tiny VideoMAE"
RUNS = (("visual only (α=0)", {"alpha": 0.0}),
        ("text-guided linear", {"mapping": "linear"}),
        ("text-guided squared", {"mapping": "squared"}))
EMBEDDED_UNTRAINED = "untrained embedded EfficientNet-Lite0"
EMBEDDED_RUN = "embedded, text-guided linear"


def tiny_backbone(path: Path, seed: int, hidden_size: int = 96,
                  mean_pooling: bool = True) -> Path:
    """A randomly initialised 4-layer VideoMAE at 64×64, saved like a downloaded model."""
    import torch
    from transformers import VideoMAEConfig, VideoMAEModel

    torch.manual_seed(seed)
    config = VideoMAEConfig(image_size=64, patch_size=16, num_frames=16, tubelet_size=2,
                            hidden_size=hidden_size, num_hidden_layers=4, num_attention_heads=4,
                            intermediate_size=2 * hidden_size, use_mean_pooling=mean_pooling)
    VideoMAEModel(config).save_pretrained(path)
    return path


def subset_scores(pred: Segmentation, truth: Segmentation, kinds: list[str],
                  tolerance: float) -> dict[str, Any]:
    """Boundary counts and truth-side IoU restricted to the intercut/revisited scenes.

    For each such scene, the true boundaries are its start and end; predicted boundaries are
    those inside the scene (± tolerance). A model that splits an intercut scene by place
    loses precision here; one that merges a revisit into its neighbour loses recall.
    """
    bounds = [*truth.starts, truth.end]
    counts = np.zeros(3, np.int64)
    ious = []
    for k, kind in enumerate(kinds):
        if kind not in SPECIAL:
            continue
        a, b = bounds[k], bounds[k + 1]
        t_b = [x for x in (a, b) if 0 < x < truth.end]
        p_b = [x for x in pred.boundaries if a - tolerance <= x <= b + tolerance]
        m = boundary_prf(p_b, t_b, tolerance)
        counts += (m["hits"], m["n_pred"], m["n_truth"])
        p_iv = list(zip([*pred.starts], [*pred.starts[1:], pred.end]))
        ious.append(miou(p_iv, [(a, b)])["miou_truth"])
    return {**prf(*(int(c) for c in counts)), "iou": ious}


@dataclass
class HeldOut:
    """A held-out film with its true scenes and each scene's kind (normal/intercut/revisit)."""

    video: Path
    truth: Segmentation
    kinds: list[str]


def make_films(root: Path, seed: int, progress: bool) -> tuple[Path, list[HeldOut], int, int]:
    """Render the films; returns (training manifest, held-out films, n_train, n_val)."""
    import yaml

    from scenesem_otio.demo.synth import synth_films

    # 8 held-out films (64 scene cuts, 16 intercut/revisited scenes at seed 0) and 4 for θ:
    # 3 and 2 were too few to rank the rows (even on 8 they swap between seeds).
    n_train, n_val, n_test = 16, 4, 8
    entries = synth_films(root / "films", n_train + n_val + n_test, seed, 128, 72,
                          progress=progress)
    for i, e in enumerate(entries):
        e.pop("kinds", None)
        e["split"] = "train" if i < n_train else "val"
    manifest = root / "films" / "train.yaml"
    manifest.write_text(yaml.safe_dump(entries[: n_train + n_val]))
    held_out = held_out_films(root / "films", entries[n_train + n_val :])
    return manifest, held_out, n_train, n_val


def held_out_films(films_dir: Path, entries: list[dict[str, Any]] | None = None
                   ) -> list[HeldOut]:
    """The held-out films with their truth and scene kinds; without `entries`, those of a
    demo workdir's `films/` that its training manifest (train.yaml) does not list."""
    import yaml

    from scenesem_otio.adapters.formats import read_timeline
    from scenesem_otio.adapters.timeline import scenes_from_timeline

    if entries is None:
        seen = {e["video"] for e in yaml.safe_load((films_dir / "train.yaml").read_text())}
        entries = [e for e in yaml.safe_load((films_dir / "manifest.yaml").read_text())
                   if e["video"] not in seen]
    held_out = []
    for e in entries:
        scenes = scenes_from_timeline(read_timeline(films_dir / e["timeline"]))
        fr = 25.0
        held_out.append(HeldOut(
            films_dir / e["video"],
            Segmentation([s.start / fr for s in scenes], scenes[-1].end / fr),
            [str(s.metadata.get("kind", "normal")) for s in scenes]))
    return held_out


def as_segmentation(result: CutResult) -> Segmentation:
    """A `cut` result as the scorer reads it (see `segmentation_of`)."""
    return segmentation_of(result.film, result.scenes, result.scores)


def segmentation_of(film: FilmEmbedding, scenes: list[Scene], scores: np.ndarray
                    ) -> Segmentation:
    """Scenes plus every shot cut's boundary score (so AP sees the ranking, not just θ)."""
    fr = float(film.info.fps)
    candidates = [(shot.start / fr, float(x)) for shot, x in zip(film.shots[1:], scores)
                  if np.isfinite(x)]
    return Segmentation([s.start / fr for s in scenes], film.info.n_frames / fr,
                        candidates=candidates)


def evaluate_rules(held_out: list[HeldOut], model: Any, rules: dict[str, Any]
                   ) -> dict[str, dict[str, Any]]:
    """One table row per rule (name -> SegmentOptions) for `model`, as `cut` would decode:
    each film is embedded once and decoded every way, so the rows share their embeddings."""
    from scenesem_otio.embed import embed_film
    from scenesem_otio.pipeline import scenes_of

    preds: dict[str, dict[Path, Segmentation]] = {name: {} for name in rules}
    for film in held_out:
        embedded = embed_film(film.video, model, progress=False)
        for name, segment in rules.items():
            scenes, scores, _, _ = scenes_of(embedded, segment, model)
            preds[name][film.video] = segmentation_of(embedded, scenes, scores)
    return {name: evaluate(held_out, by_video.__getitem__) for name, by_video in preds.items()}


def evaluate(held_out: list[HeldOut], predict: Callable[[Path], Segmentation]
             ) -> dict[str, Any]:
    """Score `predict(video)` on every held-out film: one table row."""
    rows, subs = [], []
    for film in held_out:
        pred = predict(film.video)
        rows.append(score(pred, film.truth))
        subs.append(subset_scores(pred, film.truth, film.kinds, 0.5))
    o = overall(rows)
    return {"f1": o["f1"], "precision": o["precision"], "recall": o["recall"],
            "miou": o["miou"], "ap": o["ap"],
            "f1_special": overall(subs)["f1"],  # pooled over the subset's boundaries
            "iou_special": float(np.mean([x for s in subs for x in s["iou"]]))}


def run_config(manifest: Path, out_dir: Path, base_model: str, steps: int, seed: int,
               progress: bool, **options: Any) -> TrainConfig:
    """The TrainConfig of one demo run (`options`: α, mapping, …); the text sweep in
    benchmarks/text_guidance.py trains with the same."""
    from scenesem_otio.train.config import TrainConfig

    return TrainConfig(data=[str(manifest)], out_dir=str(out_dir), base_model=base_model,
                       unfreeze=2, steps=steps, batch_scenes=8, lr_backbone=1e-4, lr_head=1e-3,
                       save_every=10_000, seed=seed, progress=progress, **options)


def trained_with(ckpt: Path, cfg: TrainConfig) -> bool:
    """Whether `ckpt` is a finished run with `cfg`'s settings (its paths aside) and today's
    shot detection: benchmarks reuse the demo's own runs instead of training them again."""
    from dataclasses import asdict

    from scenesem_otio.train.calibration import shots_record

    meta_path = ckpt / "scenesem.json"
    if not meta_path.is_file():
        return False
    meta = json.loads(meta_path.read_text())
    recorded = meta.get("training") or {}
    wanted = json.loads(json.dumps(asdict(cfg)))  # tuples as JSON lists, like the record
    return meta.get("shots") == shots_record() and all(
        recorded.get(k) == v for k, v in wanted.items()
        if k not in ("out_dir", "cache_features", "progress"))


def train_runs(root: Path, manifest: Path, backbone: Path, steps: int, seed: int,
               progress: bool) -> dict[str, str]:
    """The training runs of one seed: the tiny VideoMAE three ways, the embedded model once.

    Each run ends with the boundary model's second stage and the calibration of both rules.
    """
    from scenesem_otio.train.trainer import train

    runs = [(label, str(backbone), opts) for label, opts in RUNS]
    runs.append((EMBEDDED_RUN, "embedded", {"mapping": "linear",  # its prefix, cached once
                                            "cache_features": str(root / "cache-embedded")}))
    ckpts: dict[str, str] = {}
    for label, base, opts in runs:
        cfg = run_config(manifest, root / f"ckpt-{len(ckpts)}", base, steps, seed, progress,
                         **opts)
        train(cfg)
        ckpts[label] = cfg.out_dir
    return ckpts


def untrained_options(embedder: SceneEmbedder, manifest: Path) -> CutOptions:
    """Cut options for a model without a head: θ and min scene calibrated on the same
    validation films the trained runs use."""
    from scenesem_otio.core.config import CutOptions, SegmentOptions
    from scenesem_otio.train.calibration import calibration_of, cosine_scored, embed_films
    from scenesem_otio.train.sources import load_sources

    val = [it for it in load_sources([str(manifest)]) if it.split == "val"]
    calib = calibration_of(cosine_scored(embed_films(embedder, val)), "val")
    return CutOptions(segment=SegmentOptions(threshold=calib.threshold,
                                             min_scene_s=calib.min_scene_s), progress=False)


def seed_rows(root: Path, manifest: Path, backbone: Path, held_out: list[HeldOut],
              ckpts: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every row of the demo table for one training seed (PySceneDetect is seed-free)."""
    from scenesem_otio.core.config import SegmentOptions
    from scenesem_otio.model.checkpoint import load_embedder

    rows = {}
    for label, name in ((UNTRAINED, str(backbone)), (EMBEDDED_UNTRAINED, "embedded")):
        model = load_embedder(name, device="cpu", precision="fp32")
        rows.update(evaluate_rules(held_out, model,
                                   {label: untrained_options(model, manifest).segment}))
    for label, path in ckpts.items():
        rules = {f"cosine rule, {label}": SegmentOptions(boundary_model=False),
                 f"boundary model, {label}": SegmentOptions()}
        rows.update(evaluate_rules(held_out, load_embedder(path, device="cpu"), rules))
    return rows


METRICS = ("f1", "precision", "recall", "ap", "miou", "f1_special", "iou_special")


def format_table(rows: dict[str, list[dict[str, Any]]], facts: str, footer: str) -> str:
    """Mean ± sd over seeds per metric (just the value for one seed)."""
    def cell(values: list[Any]) -> str:
        values = [v for v in values if v is not None]
        if not values:
            return "—"
        if len(values) == 1:
            return f"{values[0]:.3f}"
        return f"{np.mean(values):.3f}±{np.std(values, ddof=1):.3f}"

    width = 12 if any(len(v) > 1 for v in rows.values()) else 7
    names = ("F1@0.5s", "P", "R", "AP", "mIoU", "F1 ic/rv", "IoU ic/rv")
    head = f"{'method':<44}" + "".join(f"{n:>{max(width, len(n) + 1)}}" for n in names)
    lines = [facts, head, "-" * len(head)]
    for label, runs in rows.items():
        lines.append(f"{label:<44}" + "".join(
            f"{cell([r[m] for r in runs]):>{max(width, len(n) + 1)}}"
            for m, n in zip(METRICS, names)))
    lines.append("ic/rv = only the intercut and revisited-place scenes; AP ranks every shot cut "
                 "by boundary score (threshold-free); ± = sd over training seeds")
    lines.append(footer)
    return "\n".join(lines)


def run_demo(minutes: float = 8.0, workdir: Path | None = None, seed: int = 0,
             progress: bool = True, seeds: int = 1) -> str:
    """Run the comparison and return the table (also saved as demo.json in the workdir).

    The films come from `seed`; the training runs are repeated for seeds seed … seed+seeds−1.
    """
    from scenesem_otio.evaluate.compare import baseline_segmentation

    start = time.perf_counter()
    keep = workdir is not None
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="scenesem-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    manifest, held_out, n_train, n_val = make_films(root, seed, progress)
    backbone = tiny_backbone(root / "tiny-videomae", seed)
    # Budget: rendering and evaluation take ~1.5 min; the rest goes to the training runs.
    steps = int(np.clip(minutes * 50, 40, 600))
    rows: dict[str, list[dict[str, Any]]] = {PYSCENEDETECT: [evaluate(
        held_out, lambda video: baseline_segmentation(str(video)))]}
    for s in range(seed, seed + seeds):
        ckpts = train_runs(root / f"seed-{s}", manifest, backbone, steps, s, progress)
        for label, row in seed_rows(root, manifest, backbone, held_out, ckpts).items():
            rows.setdefault(label, []).append(row)
    wall = time.perf_counter() - start
    n_bounds = sum(len(f.truth.starts) - 1 for f in held_out)
    n_special = sum(k in SPECIAL for f in held_out for k in f.kinds)
    report = format_table(
        rows,
        f"held-out films: {len(held_out)} (synthetic, 128x72, 25 fps; {n_bounds} scene cuts, "
        f"{n_special} intercut/revisited scenes); training: {n_train} films, "
        f"{steps} steps per run, seeds {seed}…{seed + seeds - 1}; θ and minimum scene "
        f"calibrated on {n_val} validation films",
        f"wall time {wall / 60:.1f} min; work files in {root if keep else '(temporary, removed)'}")
    (root / "demo.json").write_text(json.dumps({"rows": rows, "steps": steps,
                                                "seeds": seeds, "wall_s": wall}, indent=2))
    if not keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return report
