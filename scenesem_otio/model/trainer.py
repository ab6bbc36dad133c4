"""Training (SPEC §3.3–3.5) on Hugging Face accelerate: one code path for CPU, GPUs and nodes.

Only the last K encoder layers and the head learn; the frozen prefix runs without autograd and
its output can be cached on disk (`--cache-features`). Each step's scenes are a pure function of
(seed, step, rank), so `--resume` continues bit for bit from the optimizer, scheduler and RNG
state saved (as safetensors + JSON, never pickle) beside the weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from scenesem_otio.errors import CheckpointError, DataError

log = logging.getLogger("scenesem")

STATE_TENSORS = "trainer_state.safetensors"
STATE_JSON = "trainer_state.json"
METRICS = "metrics.jsonl"


@dataclass
class TrainConfig:
    data: list[str]
    out_dir: str
    base_model: str = "MCG-NJU/videomae-base"
    unfreeze: int = 2
    labels: str = "scene"
    mapping: str = "linear"
    lambda_neg: float = 1.0
    alpha: float = 1.0
    margin: float = 0.0
    temperature: float = 0.1
    text_model: str | None = None
    steps: int | None = None
    epochs: int | None = None
    batch_scenes: int = 8
    clips_per_scene: int = 2
    lr_head: float = 1e-3
    lr_backbone: float = 1e-5
    weight_decay: float = 0.01
    warmup: float = 0.05  # share of steps
    grad_clip: float = 1.0
    head_hidden: int = 512
    head_out: int = 256
    save_every: int = 100
    cache_features: str | None = None
    seed: int = 0
    resume: bool = False
    stop_after: int | None = None  # leave the run resumable after this step
    precision: str = "auto"
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class TrainModule(nn.Module):
    """What accelerate wraps: frozen prefix (no autograd) -> trainable suffix -> head.

    Going through this forward (not backbone methods directly) keeps DDP's gradient sync.
    """

    def __init__(self, embedder: nn.Module, start_layer: int) -> None:
        super().__init__()
        self.embedder = embedder
        self.start_layer = start_layer

    def prefix(self, pixel_values: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.embedder.backbone.prefix(pixel_values, self.start_layer)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        pooled = self.embedder.backbone.suffix(hidden, self.start_layer)
        return self.embedder.head(pooled)


def lr_lambda(total: int, warmup: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return f


# ---------------------------------------------------------------- state (no pickle)


def optimizer_state_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor],
                                                                  dict[str, Any]]:
    state = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for pid, entry in state["state"].items():
        scalars["state"][str(pid)] = {}
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"opt.{pid}.{key}"] = value.detach().cpu().contiguous()
                scalars["state"][str(pid)][key] = "__tensor__"
            else:
                scalars["state"][str(pid)][key] = value
    return tensors, scalars


def optimizer_state_from_flat(tensors: dict[str, torch.Tensor], scalars: dict[str, Any]
                              ) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for pid, entry in scalars["state"].items():
        state[int(pid)] = {k: (tensors[f"opt.{pid}.{k}"] if v == "__tensor__" else v)
                           for k, v in entry.items()}
    return {"state": state, "param_groups": scalars["param_groups"]}


# ---------------------------------------------------------------- feature cache


class FeatureCache:
    """Frozen-prefix outputs per clip, fp16 in a memory-mapped file, filled on first use."""

    def __init__(self, directory: str, n_clips: int, shape: tuple[int, int],
                 fingerprint: str) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        base = self.dir / f"prefix-{fingerprint[:16]}"
        self.data_path = base.with_suffix(".f16")
        self.done_path = base.with_suffix(".done.npy")
        full = (n_clips, *shape)
        mode = "r+" if self.data_path.exists() else "w+"
        self.data = np.memmap(self.data_path, dtype=np.float16, mode=mode, shape=full)
        self.done = (np.load(self.done_path) if self.done_path.exists()
                     else np.zeros(n_clips, bool))
        self.hits = 0
        self.misses = 0

    def get(self, idx: np.ndarray, compute) -> torch.Tensor:
        missing = idx[~self.done[idx]]
        if len(missing):
            feats = compute(missing)
            self.data[missing] = feats.float().cpu().numpy().astype(np.float16)
            self.done[missing] = True
            self.data.flush()
            np.save(self.done_path, self.done)
        self.hits += int(len(idx) - len(missing))
        self.misses += len(missing)
        return torch.from_numpy(np.asarray(self.data[idx], dtype=np.float32))


# ---------------------------------------------------------------- calibration


def calibrate_threshold(embedder: Any, meta: dict[str, Any], videos: list[Any],
                        min_scene_s: float, progress: bool = False
                        ) -> tuple[float | None, float | None]:
    """θ maximising boundary F1 (±0.5 s) on the given videos, as `scenesem cut` would see them."""
    from scenesem_otio.evaluate import boundary_prf
    from scenesem_otio.pipeline import cut
    from scenesem_otio.segment import pick_boundaries

    runs = []
    for item in videos:
        result = cut(Path(item.path), None, progress=progress, embedder=embedder, meta=meta,
                     min_scene_s=min_scene_s)
        fr = float(item.info.fps)
        truth = sorted({s.start / fr for s in item.scenes if s.start > 0})
        starts = [s.start / fr for s in result.shots]
        runs.append((result.scores, starts, item.info.duration_s, truth))
    candidates = sorted({float(x) for r in runs for x in r[0]})
    if not candidates:
        return None, None
    best = (-1.0, None)
    for theta in candidates:
        hits = n_pred = n_truth = 0
        for scores, starts, duration, truth in runs:
            cuts = pick_boundaries(scores, starts, duration, theta, 1, min_scene_s)
            pred = [starts[k + 1] for k in cuts]
            m = boundary_prf(pred, truth, 0.5)
            hits += m["hits"]
            n_pred += m["n_pred"]
            n_truth += m["n_truth"]
        p = hits / n_pred if n_pred else 0.0
        r = hits / n_truth if n_truth else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best[0] + 1e-12:
            best = (f1, theta)
    return best[1], best[0]


# ---------------------------------------------------------------- training


def _fingerprint(embedder: Any, start_layer: int, table: Any) -> str:
    h = hashlib.sha256()
    for name, p in embedder.backbone.named_parameters():
        if name.startswith("encoder.embeddings") or any(
                name.startswith(f"encoder.encoder.layer.{i}.") for i in range(start_layer)):
            h.update(name.encode())
            h.update(p.detach().cpu().float().numpy().tobytes())
    h.update(str(table.pixels.shape).encode())
    h.update(hashlib.sha256(table.pixels[:, ::4, ::8, ::8].tobytes()).digest())
    return h.hexdigest()


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run training; returns a summary dict. Writes the checkpoint directory `cfg.out_dir`."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from safetensors.torch import load_file, save_file

    from scenesem_otio.model.data import batch_scenes, build_clip_table, load_sources
    from scenesem_otio.model.embedder import (
        SceneEmbedder,
        cpu_has_fast_bf16,
        is_checkpoint,
        load_checkpoint,
        load_embedder,
        save_checkpoint,
    )
    from scenesem_otio.model.head import EmbeddingHead
    from scenesem_otio.model.loss import text_calibration, total_loss
    from scenesem_otio.model.text import make_text_encoder
    from scenesem_otio.progress import progress_bar

    out = Path(cfg.out_dir)
    if cfg.resume and not (out / STATE_JSON).is_file():
        raise CheckpointError(f"{out}: nothing to resume (no {STATE_JSON}); drop --resume")
    if not cfg.resume and out.exists() and any(out.iterdir()) and not is_checkpoint(out):
        raise CheckpointError(f"{out}: exists and is not a scenesem checkpoint; choose "
                              "another --out")
    if cfg.steps is not None and cfg.epochs is not None:
        raise DataError("give --steps or --epochs, not both")
    if not cfg.unfreeze >= 0:
        raise DataError("--unfreeze must be ≥ 0")

    cuda = torch.cuda.is_available()
    if cfg.precision == "auto":
        mixed = "bf16" if (cuda and torch.cuda.is_bf16_supported()) or (
            not cuda and cpu_has_fast_bf16()) else "no"
    else:
        mixed = "bf16" if cfg.precision == "bf16" else "no"
    accelerator = Accelerator(cpu=not cuda, mixed_precision=mixed)
    main = accelerator.is_main_process
    rank, world = accelerator.process_index, accelerator.num_processes
    set_seed(cfg.seed)

    items = load_sources(cfg.data, cfg.labels)
    train_videos = [i for i, it in enumerate(items) if it.split == "train"]
    val_videos = [i for i, it in enumerate(items) if it.split == "val"]
    if not train_videos:
        raise DataError("no training videos (every entry has split: val)")

    embedder, base_meta = load_embedder(cfg.base_model, device="cpu", precision="fp32")
    torch.manual_seed(cfg.seed)
    if embedder.head is None:
        embedder.head = EmbeddingHead(embedder.backbone.hidden_size, cfg.head_hidden,
                                      cfg.head_out)
    backbone = embedder.backbone
    k = min(cfg.unfreeze, backbone.num_layers)
    backbone.unfreeze_last(k)
    for p in embedder.head.parameters():
        p.requires_grad_(True)
    start_layer = backbone.num_layers - k
    sampling = dict(base_meta.get("sampling") or {})
    num_frames = int(sampling.get("num_frames", backbone.num_frames))
    image_size = int(sampling.get("image_size", backbone.image_size))

    table = build_clip_table(items, num_frames, image_size, cfg.clips_per_scene, cfg.labels,
                             progress=cfg.progress and main)
    encoder = make_text_encoder(cfg.text_model)
    text = torch.from_numpy(encoder.encode(table.scene_texts)).float()
    train_scene_mask = np.isin(table.scene_video, train_videos)
    a, b = text_calibration(text.numpy()[train_scene_mask])

    n_train_scenes = int(train_scene_mask.sum())
    steps_per_epoch = max(1, math.ceil(n_train_scenes / (cfg.batch_scenes * world)))
    total = cfg.steps if cfg.steps is not None else steps_per_epoch * (cfg.epochs or 3)

    head_params = [p for p in embedder.head.parameters() if p.requires_grad]
    body_params = [p for p in backbone.parameters() if p.requires_grad]
    groups = [{"params": head_params, "lr": cfg.lr_head, "name": "head"}]
    if body_params:
        groups.append({"params": body_params, "lr": cfg.lr_backbone, "name": "backbone"})
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    warmup = max(1, round(cfg.warmup * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(total, warmup))

    start_step = 0
    if cfg.resume:
        resumed, _ = load_checkpoint(out)
        embedder.load_state_dict(resumed.state_dict())
        state = json.loads((out / STATE_JSON).read_text())
        tensors = load_file(str(out / STATE_TENSORS))
        optimizer.load_state_dict(optimizer_state_from_flat(tensors, state["optimizer"]))
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(tensors["rng.torch"])
        start_step = int(state["step"])
        if state.get("total") != total:
            raise CheckpointError(f"{out}: was started for {state.get('total')} steps; resume "
                                  f"with the same --steps/--epochs (now {total})")
        a, b = float(state["text_a"]), float(state["text_b"])
        previous = _read_metrics(out / METRICS, start_step)
    else:
        previous = []

    module = TrainModule(embedder, start_layer)
    module, optimizer = accelerator.prepare(module, optimizer)
    device = accelerator.device
    cache = None
    if cfg.cache_features:
        with torch.no_grad():
            probe_h = backbone.prefix(backbone.preprocess(table.pixels[:1]), start_layer)
        cache = FeatureCache(f"{cfg.cache_features}/rank{rank}", len(table.pixels),
                             tuple(probe_h.shape[1:]),
                             _fingerprint(embedder, start_layer, table))

    def features(idx: np.ndarray) -> torch.Tensor:
        def compute(sel: np.ndarray) -> torch.Tensor:
            x = backbone.preprocess(table.pixels[sel]).to(device)
            with accelerator.autocast():
                return accelerator.unwrap_model(module).prefix(x)

        if cache is not None:
            return cache.get(idx, compute).to(device)
        return compute(idx).float()

    meta_base = {
        "backbone": base_meta.get("backbone", cfg.base_model),
        "unfreeze": k, "label_mode": cfg.labels, "text_model": encoder.name,
        "text_a": a, "text_b": b, "mapping": cfg.mapping, "alpha": cfg.alpha,
        "lambda_neg": cfg.lambda_neg, "margin": cfg.margin, "temperature": cfg.temperature,
        "sampling": {**sampling, "num_frames": num_frames, "image_size": image_size},
        "training": {k_: v for k_, v in asdict(cfg).items() if k_ not in ("extra",)},
    }
    logs: list[dict[str, Any]] = []
    epoch_times: list[float] = []
    epoch_start = time.perf_counter()
    last_step = start_step
    stop_at = min(total, cfg.stop_after) if cfg.stop_after else total

    def save(step: int, final: bool, extra_meta: dict[str, Any] | None = None) -> None:
        accelerator.wait_for_everyone()
        if not main:
            return
        tensors, scalars = optimizer_state_to_flat(optimizer.optimizer
                                                   if hasattr(optimizer, "optimizer")
                                                   else optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        state = {"step": step, "total": total, "optimizer": scalars,
                 "scheduler": scheduler.state_dict(), "text_a": a, "text_b": b,
                 "final": final}
        unwrapped = accelerator.unwrap_model(module).embedder

        def extra(tmp: Path) -> None:
            save_file(tensors, str(tmp / STATE_TENSORS))
            (tmp / STATE_JSON).write_text(json.dumps(state, default=str))
            (tmp / METRICS).write_text("".join(json.dumps(r) + "\n"
                                               for r in [*previous, *logs]))

        save_checkpoint(unwrapped, out, {**meta_base, **(extra_meta or {}), "step": step},
                        extra=extra)

    module.train()
    with progress_bar("training", total=stop_at - start_step, unit="steps",
                      enabled=cfg.progress and main) as advance:
        for step in range(start_step, stop_at):
            t0 = time.perf_counter()
            scenes = batch_scenes(table, train_videos, cfg.batch_scenes, step, cfg.seed, rank)
            idx = np.flatnonzero(np.isin(table.scene, scenes))
            hidden = features(idx)
            with accelerator.autocast():
                v = module(hidden)
            v = v.float()
            labels = torch.as_tensor(table.label[idx], device=device)
            t = text[table.scene[idx]].to(device)
            terms = total_loss(v, t, labels, a, b, mapping=cfg.mapping,
                               lambda_neg=cfg.lambda_neg, margin=cfg.margin, alpha=cfg.alpha,
                               temperature=cfg.temperature)
            accelerator.backward(terms["loss"])
            if cfg.grad_clip:
                accelerator.clip_grad_norm_([p for g in groups for p in g["params"]],
                                            cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            last_step = step + 1
            row = {"step": last_step, **{k_: float(v_.detach()) for k_, v_ in terms.items()},
                   "lr_head": scheduler.get_last_lr()[0],
                   "lr_backbone": scheduler.get_last_lr()[-1] if body_params else None,
                   "clips": len(idx) * world,
                   "clips_per_s": len(idx) * world / max(time.perf_counter() - t0, 1e-9)}
            logs.append(row)
            advance(1)
            if last_step % steps_per_epoch == 0:
                epoch_times.append(time.perf_counter() - epoch_start)
                epoch_start = time.perf_counter()
            if last_step % cfg.save_every == 0 and last_step < total:
                save(last_step, final=False)

    summary: dict[str, Any] = {"steps": last_step, "total": total, "text_a": a, "text_b": b,
                               "epoch_times_s": epoch_times,
                               "steps_per_epoch": steps_per_epoch, "world": world}
    if cache is not None:
        summary["cache_hits"], summary["cache_misses"] = cache.hits, cache.misses
    if logs:
        first = [r["loss"] for r in logs[:10]]
        last = [r["loss"] for r in logs[-10:]]
        summary["loss_first10"] = float(np.mean(first))
        summary["loss_last10"] = float(np.mean(last))
    if last_step < total:
        save(last_step, final=False)
        summary["stopped"] = True
        return summary

    # Calibration (θ, min scene) on the validation split, or on training videos without one.
    theta = f1 = None
    durations = [(s.end - s.start) / float(it.info.fps) for it in items for s in it.scenes]
    min_scene_s = float(min(8.0, 0.5 * np.percentile(durations, 5))) if durations else 8.0
    if main:
        unwrapped = accelerator.unwrap_model(module).embedder
        calib = SceneEmbedder(unwrapped.backbone, unwrapped.head).eval()
        calib.autocast_dtype = torch.bfloat16 if mixed == "bf16" else None
        calib_meta = {**meta_base, "threshold": None}
        pool = [items[i] for i in (val_videos or train_videos)]
        theta, f1 = calibrate_threshold(calib, calib_meta, pool, min_scene_s,
                                        progress=cfg.progress)
        module.train()
    summary.update({"threshold": theta, "calibration_f1": f1, "min_scene_s": min_scene_s,
                    "calibrated_on": "val" if val_videos else "train"})
    save(last_step, final=True, extra_meta={
        "threshold": theta, "calibration_f1": f1, "min_scene_s": min_scene_s,
        "calibrated_on": summary["calibrated_on"]})
    accelerator.end_training()
    return summary


def _read_metrics(path: Path, step: int) -> list[dict[str, Any]]:
    """Rows logged up to `step` by the run being resumed."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("step", 0) <= step]


def train_from_cli(**options: Any) -> str:
    """`scenesem train` options -> run -> a short report."""
    cfg = TrainConfig(
        data=list(options["data"]), out_dir=str(options["out_dir"]),
        base_model=options["base_model"], unfreeze=options["unfreeze"],
        labels=options["labels"], mapping=options["mapping"],
        lambda_neg=options["lambda_neg"], alpha=options["alpha"], margin=options["margin"],
        text_model=options["text_model"], steps=options["steps"], epochs=options["epochs"],
        batch_scenes=options["batch_scenes"], lr_head=options["lr_head"],
        lr_backbone=options["lr_backbone"], save_every=options["save_every"],
        cache_features=str(options["cache_features"]) if options["cache_features"] else None,
        seed=options["seed"], resume=options["resume"],
        stop_after=options.get("stop_after"), progress=not options["no_progress"])
    start = time.perf_counter()
    s = train(cfg)
    lines = [f"steps          {s['steps']}/{s['total']}"]
    if "loss_first10" in s:
        lines.append(f"loss           {s['loss_first10']:.4f} (first 10) -> "
                     f"{s['loss_last10']:.4f} (last 10)")
    lines.append(f"text a, b      {s['text_a']:.3f}, {s['text_b']:.3f}")
    if s.get("threshold") is not None:
        lines.append(f"θ              {s['threshold']:.4f} (F1 {s['calibration_f1']:.3f} on "
                     f"{s['calibrated_on']})")
    if s.get("epoch_times_s"):
        lines.append("epoch times    " + ", ".join(f"{t:.1f} s" for t in s["epoch_times_s"]))
    if s.get("stopped"):
        lines.append("stopped early; continue with --resume")
    lines.append(f"wall time      {time.perf_counter() - start:.1f} s")
    lines.append(f"checkpoint     {cfg.out_dir}")
    return "\n".join(lines)
