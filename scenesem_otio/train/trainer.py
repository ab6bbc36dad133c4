"""Training (SPEC §3.3–3.5) on Hugging Face accelerate: one code path for CPU, GPUs and nodes.

Only the last K encoder layers and the head learn; the frozen prefix runs without autograd and
its output can be cached on disk (`--cache-features`). Each step's scenes are a pure function of
(seed, step, rank), so `--resume` continues bit for bit from the optimizer, scheduler and RNG
state saved (as safetensors + JSON, never pickle) beside the weights. After the last step θ and
the minimum scene length are calibrated on the validation split.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from scenesem_otio.core.errors import CheckpointError, DataError
from scenesem_otio.model.meta import Calibration, ModelMeta
from scenesem_otio.train.config import (
    BOUNDARY_TRAINING,
    TrainConfig,
    TrainSummary,
    folds,
)
from scenesem_otio.train.state import (
    METRICS,
    STATE_JSON,
    STATE_TENSORS,
    FeatureCache,
    fingerprint,
    lr_lambda,
    optimizer_state_from_flat,
    optimizer_state_to_flat,
    read_metrics,
)

if TYPE_CHECKING:
    from accelerate import Accelerator

    from scenesem_otio.model.boundary import BoundaryEnsemble, BoundaryModel
    from scenesem_otio.model.embedder import SceneEmbedder
    from scenesem_otio.train.calibration import LabelledFilm
    from scenesem_otio.train.clips import ClipTable
    from scenesem_otio.train.sources import VideoItem

log = logging.getLogger("scenesem")


class TrainModule(nn.Module):
    """What accelerate wraps: frozen prefix (no autograd) -> trainable suffix -> head, and in
    joint mode (`--boundary-training joint`) the boundary model over a crop's shots.

    Going through this forward (not backbone methods directly) keeps DDP's gradient sync.
    """

    def __init__(self, embedder: SceneEmbedder, start_layer: int,
                 boundary: BoundaryModel | None = None) -> None:
        super().__init__()
        self.embedder = embedder
        self.start_layer = start_layer
        self.boundary = boundary

    def prefix(self, pixel_values: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.embedder.backbone.prefix(pixel_values, self.start_layer)

    def forward(self, hidden: torch.Tensor, crop: tuple[int, torch.Tensor, torch.Tensor]
                | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Clip embeddings; with `crop` = (n scene clips, shot of each later clip, log
        durations), also the boundary logits of the crop's shots (the rows after the first n).
        """
        pooled = self.embedder.backbone.suffix(hidden, self.start_layer)
        head = self.embedder.head
        assert head is not None  # `prepare_model` gives every embedder it trains one
        v = head(pooled)
        if crop is None or self.boundary is None:
            return v
        n, clip_shot, log_dur = crop
        shot = torch.zeros(len(log_dur), v.shape[1], device=v.device)
        shot = nn.functional.normalize(shot.index_add(0, clip_shot, v[n:].float()), dim=-1)
        if self.training:  # the second stage's augmentation (train.boundary)
            from scenesem_otio.train.augment import perturb

            shot = perturb(shot, lambda _: torch.randn_like(shot),
                           lambda n: torch.rand(n, device=v.device))
        return v[:n], self.boundary(shot, log_dur)


@dataclass
class RunState:
    """What changes as a run goes: its text calibration and metrics (restored by --resume),
    the meta every save writes, the feature cache and the boundary model."""

    meta: ModelMeta
    text_a: float
    text_b: float
    cache: FeatureCache | None = None
    # Joint training's from the start; the second stage's (an ensemble) once trained.
    boundary: BoundaryModel | BoundaryEnsemble | None = None
    previous: list[dict[str, Any]] = field(default_factory=list)  # metrics before --resume
    logs: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class Run:
    """One training run's parts, fixed once `build_run` made them and shared by its steps,
    saves and calibration; what changes as it goes is in `state`."""

    cfg: TrainConfig
    accelerator: Accelerator
    mixed: str  # "bf16" or "no"
    module: nn.Module  # the TrainModule as accelerate prepared it (DDP across processes)
    optimizer: torch.optim.Optimizer  # AdamW, in accelerate's wrapper
    scheduler: LambdaLR
    groups: list[dict[str, Any]]  # the optimizer's parameter groups, named
    items: list[VideoItem]
    table: ClipTable
    text: torch.Tensor  # [n_scenes, d_text], unit rows
    total: int
    steps_per_epoch: int
    boundary_pos_weight: float  # joint mode's class balance
    state: RunState

    @property
    def trainee(self) -> TrainModule:
        """The TrainModule inside accelerate's wrapper."""
        module: TrainModule = self.accelerator.unwrap_model(self.module)
        return module

    @property
    def embedder(self) -> SceneEmbedder:
        return self.trainee.embedder

    def videos(self, split: str) -> list[int]:
        return [i for i, it in enumerate(self.items) if it.split == split]


def check_config(cfg: TrainConfig) -> None:
    """Refuse a run that would fail later or overwrite something that is not ours."""
    from scenesem_otio.model.meta import is_checkpoint

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
    low, high = cfg.text_window
    if not 0.0 <= low < high <= 100.0:
        raise DataError(f"--text-window: need 0 ≤ LOW < HIGH ≤ 100, not {low:g} {high:g}")
    if cfg.boundary_members < 1:
        raise DataError("--boundary-members must be ≥ 1")
    if cfg.boundary_training not in BOUNDARY_TRAINING:
        raise DataError(f"--boundary-training: one of {', '.join(BOUNDARY_TRAINING)}, not "
                        f"{cfg.boundary_training!r}")
    if cfg.boundary_training == "joint" and not cfg.boundary_model:
        raise DataError("--boundary-training joint trains a boundary model: drop "
                        "--no-boundary-model")
    if not cfg.boundary_weight >= 0:
        raise DataError("--boundary-weight must be ≥ 0")
    if folds(cfg) == 1 or folds(cfg) < 0:
        raise DataError("--boundary-folds: 0 (off) or at least 2")
    if folds(cfg) and cfg.boundary_training != "stage":
        raise DataError("--boundary-folds cross-fits the second stage: it needs "
                        "--boundary-training stage")


def mixed_precision(precision: str) -> str:
    """accelerate's mixed_precision, from the same bf16 rule inference uses."""
    from scenesem_otio.model.precision import resolve_dtype

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return "bf16" if resolve_dtype(precision, device) is not None else "no"


def prepare_model(cfg: TrainConfig) -> tuple[SceneEmbedder, int]:
    """Backbone + a fresh (or the checkpoint's) head, the last K layers trainable."""
    from scenesem_otio.model.checkpoint import load_embedder
    from scenesem_otio.model.head import EmbeddingHead

    embedder = load_embedder(cfg.base_model, device="cpu", precision="fp32")
    # issue 16: the token fraction the whole run (cache, calibration, checkpoint) uses
    from scenesem_otio.core.config import RuntimeOptions
    from scenesem_otio.model.backbone import apply_speed_options

    apply_speed_options(embedder, RuntimeOptions(keep=cfg.keep))
    torch.manual_seed(cfg.seed)
    if embedder.head is None:
        embedder.head = EmbeddingHead(embedder.backbone.hidden_size, cfg.head_hidden,
                                      cfg.head_out)
    k = min(cfg.unfreeze, embedder.backbone.num_layers)
    embedder.backbone.unfreeze_last(k)
    for p in embedder.head.parameters():
        p.requires_grad_(True)
    return embedder, k


def build_run(cfg: TrainConfig, items: list[VideoItem] | None = None) -> Run:
    """Data, text, model, optimizer and schedule: everything before the first step.

    `items`: the sources already loaded (cross-fitting passes them with some films moved out
    of the training split)."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from scenesem_otio.model.loss import text_calibration
    from scenesem_otio.model.text import make_text_encoder
    from scenesem_otio.train.clips import build_clip_table
    from scenesem_otio.train.sources import load_sources

    mixed = mixed_precision(cfg.precision)
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=mixed)
    set_seed(cfg.seed)
    items = load_sources(cfg.data, cfg.label_mode) if items is None else items
    train_videos = [i for i, it in enumerate(items) if it.split == "train"]
    if not train_videos:
        raise DataError("no training videos (every entry has split: val)")
    if cfg.alpha > 0 and all(s.text == s.title for i in train_videos for s in items[i].scenes):
        raise DataError("no scene of the training videos has a description (pseudo-labelled "
                        "footage?): train visual-only with --alpha 0")
    embedder, k = prepare_model(cfg)
    backbone = embedder.backbone
    sampling = embedder.meta.sampling.resolved(backbone.num_frames, backbone.image_size)
    # Training clips per scene are set by clips_per_scene, not by cut's clip budget (issue 16):
    # plan_scene_clips ignores sampling.max_clips_per_shot.
    table = build_clip_table(items, sampling, cfg.clips_per_scene, cfg.label_mode,
                             progress=cfg.progress and accelerator.is_main_process)
    boundary: BoundaryModel | None = None
    pos_weight = 1.0
    if cfg.boundary_training == "joint":
        from scenesem_otio.model.boundary import BoundaryModel
        from scenesem_otio.train.joint import positive_weight, with_shot_films

        table = with_shot_films(table, items, train_videos, sampling, cfg.label_mode,
                                progress=cfg.progress and accelerator.is_main_process)
        pos_weight = positive_weight(table.shot_films)
        boundary = BoundaryModel(emb_dim=cfg.head_out)
    encoder = make_text_encoder(cfg.text_model)
    text = torch.from_numpy(encoder.encode(table.scene_texts)).float()
    a, b = text_calibration(text.numpy()[np.isin(table.scene_video, train_videos)],
                            *cfg.text_window)
    n_train = int(np.isin(table.scene_video, train_videos).sum())
    world = accelerator.num_processes
    steps_per_epoch = max(1, math.ceil(n_train / (cfg.batch_scenes * world)))
    total = cfg.steps if cfg.steps is not None else steps_per_epoch * (cfg.epochs or 3)
    optimizer, scheduler, groups = make_optimizer(cfg, embedder, total, boundary)
    meta = ModelMeta(
        backbone=embedder.meta.backbone or cfg.base_model, unfreeze=k, sampling=sampling,
        keep=backbone.keep,
        record={"label_mode": cfg.label_mode, "text_model": encoder.name, "text_a": a,
                "text_b": b, "mapping": cfg.mapping, "alpha": cfg.alpha,
                "lambda_neg": cfg.lambda_neg, "margin": cfg.margin,
                "temperature": cfg.temperature, "training": asdict(cfg)})
    module = TrainModule(embedder, backbone.num_layers - k, boundary)
    module, optimizer = accelerator.prepare(module, optimizer)
    return Run(cfg, accelerator, mixed, module, optimizer, scheduler, groups, items, table,
               text, total, steps_per_epoch, pos_weight, RunState(meta, a, b, boundary=boundary))


def make_optimizer(cfg: TrainConfig, embedder: SceneEmbedder, total: int,
                   boundary: nn.Module | None = None
                   ) -> tuple[torch.optim.AdamW, LambdaLR, list[dict[str, Any]]]:
    """AdamW with the head's and the backbone's learning rates (the joint boundary model
    learns at the head's); warm-up then cosine."""
    assert embedder.head is not None  # `prepare_model` gave it one
    head_params = [p for p in embedder.head.parameters() if p.requires_grad]
    body_params = [p for p in embedder.backbone.parameters() if p.requires_grad]
    groups: list[dict[str, Any]] = [{"params": head_params, "lr": cfg.lr_head, "name": "head"}]
    if body_params:
        groups.append({"params": body_params, "lr": cfg.lr_backbone, "name": "backbone"})
    if boundary is not None:
        groups.append({"params": list(boundary.parameters()), "lr": cfg.lr_head,
                       "name": "boundary"})
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    warmup = max(1, round(cfg.warmup * total))
    scheduler = LambdaLR(optimizer, lr_lambda(total, warmup))
    return optimizer, scheduler, groups


def restore(run: Run) -> int:
    """Load weights, optimizer, scheduler, RNG and text calibration of the run to resume."""
    from safetensors.torch import load_file

    from scenesem_otio.model.checkpoint import load_checkpoint

    out = Path(run.cfg.out_dir)
    now = run.state
    run.embedder.load_state_dict(load_checkpoint(out).state_dict())
    if now.boundary is not None:
        from scenesem_otio.model.boundary import load_boundary_model

        stored = load_boundary_model(out)
        if stored is None:
            raise CheckpointError(f"{out}: has no joint boundary model to resume; resume "
                                  "with the --boundary-training it was started with")
        now.boundary.load_state_dict(stored.state_dict())
    state = json.loads((out / STATE_JSON).read_text())
    tensors = load_file(str(out / STATE_TENSORS))
    _bare(run.optimizer).load_state_dict(optimizer_state_from_flat(tensors, state["optimizer"]))
    run.scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    if state.get("total") != run.total:
        raise CheckpointError(f"{out}: was started for {state.get('total')} steps; resume "
                              f"with the same --steps/--epochs (now {run.total})")
    now.text_a, now.text_b = float(state["text_a"]), float(state["text_b"])
    now.meta = now.meta.with_record(text_a=now.text_a, text_b=now.text_b)
    now.previous = read_metrics(out / METRICS, int(state["step"]))
    return int(state["step"])


def _bare(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """accelerate wraps the optimizer; its state lives in the wrapped one."""
    return optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer


def open_cache(run: Run) -> FeatureCache | None:
    """The frozen prefix's outputs on disk, one file per rank, when --cache-features asks."""
    if not run.cfg.cache_features:
        return None
    module = run.trainee
    backbone = module.embedder.backbone
    with torch.no_grad():
        probe = backbone.prefix(backbone.preprocess(run.table.pixels[:1]), module.start_layer)
    # The tokens kept (issue 16) change the cached features: they are part of the key.
    key = fingerprint(module.embedder, module.start_layer, run.table)
    if backbone.keep < 1.0:
        key = hashlib.sha256(f"{key} keep={backbone.keep!r}".encode()).hexdigest()
    return FeatureCache(f"{run.cfg.cache_features}/rank{run.accelerator.process_index}",
                        len(run.table.pixels), tuple(probe.shape[1:]), key)


def features(run: Run, idx: np.ndarray) -> torch.Tensor:
    """Frozen-prefix outputs for clips `idx` (from the cache when there is one)."""
    module = run.trainee
    device = run.accelerator.device

    def compute(sel: np.ndarray) -> torch.Tensor:
        x = module.embedder.backbone.preprocess(run.table.pixels[sel]).to(device)
        with run.accelerator.autocast():
            return module.prefix(x)

    if run.state.cache is not None:
        return run.state.cache.get(idx, compute).to(device)
    return compute(idx).float()


def train_step(run: Run, step: int) -> dict[str, Any]:
    """One optimiser step on a batch of neighbouring scenes; returns its metrics row."""
    from scenesem_otio.model.loss import total_loss
    from scenesem_otio.train.clips import batch_scenes

    cfg, acc = run.cfg, run.accelerator
    t0 = time.perf_counter()
    scenes = batch_scenes(run.table, run.videos("train"), cfg.batch_scenes, step, cfg.seed,
                          acc.process_index)
    idx = np.flatnonzero(np.isin(run.table.scene, scenes))
    crop = None
    if run.table.shot_films:  # joint mode: one film's shots ride along (train.joint)
        from scenesem_otio.train.joint import shot_crop

        crop = shot_crop(run.table.shot_films, cfg.seed, step, acc.process_index)
    hidden = features(run, idx if crop is None else np.concatenate([idx, crop.rows]))
    with acc.autocast():
        if crop is None:
            v = run.module(hidden)
        else:
            v, logits = run.module(hidden, (len(idx), torch.as_tensor(
                crop.clip_shot, device=acc.device), torch.as_tensor(
                crop.log_dur, dtype=torch.float32, device=acc.device)))
    labels = torch.as_tensor(run.table.label[idx], device=acc.device)
    t = run.text[run.table.scene[idx]].to(acc.device)
    terms = total_loss(v.float(), t, labels, run.state.text_a, run.state.text_b,
                       mapping=cfg.mapping, lambda_neg=cfg.lambda_neg, margin=cfg.margin,
                       alpha=cfg.alpha, temperature=cfg.temperature)
    if crop is not None:
        bce = nn.functional.binary_cross_entropy_with_logits(
            logits.float(), torch.as_tensor(crop.labels, device=acc.device),
            pos_weight=torch.tensor(run.boundary_pos_weight, device=acc.device))
        terms = {**terms, "boundary_bce": bce,
                 "loss": terms["loss"] + cfg.boundary_weight * bce}
    acc.backward(terms["loss"])
    if cfg.grad_clip:
        acc.clip_grad_norm_([p for g in run.groups for p in g["params"]], cfg.grad_clip)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    lrs = dict(zip((g["name"] for g in run.groups), run.scheduler.get_last_lr()))
    n = len(idx) * acc.num_processes
    return {"step": step + 1, **{k: float(x.detach()) for k, x in terms.items()},
            "lr_head": lrs["head"], "lr_backbone": lrs.get("backbone"),
            "clips": n, "clips_per_s": n / max(time.perf_counter() - t0, 1e-9)}


def save(run: Run, step: int, final: bool) -> None:
    """Checkpoint + trainer state + metrics in one atomic directory swap (main process)."""
    from safetensors.torch import save_file

    from scenesem_otio.model.checkpoint import save_checkpoint

    run.accelerator.wait_for_everyone()
    if not run.accelerator.is_main_process:
        return
    tensors, scalars = optimizer_state_to_flat(_bare(run.optimizer))
    tensors["rng.torch"] = torch.get_rng_state()
    state = {"step": step, "total": run.total, "optimizer": scalars,
             "scheduler": run.scheduler.state_dict(), "text_a": run.state.text_a,
             "text_b": run.state.text_b, "final": final}

    def extra(tmp: Path) -> None:
        save_file(tensors, str(tmp / STATE_TENSORS))
        (tmp / STATE_JSON).write_text(json.dumps(state, default=str))
        (tmp / METRICS).write_text("".join(json.dumps(r) + "\n"
                                           for r in [*run.state.previous, *run.state.logs]))
        if run.state.boundary is not None:
            from scenesem_otio.model.boundary import write_boundary_files

            write_boundary_files(run.state.boundary, tmp)

    save_checkpoint(run.embedder, run.cfg.out_dir, run.state.meta.with_record(step=step),
                    extra=extra)


def fit(run: Run, start_step: int) -> tuple[int, list[float]]:
    """The step loop, saving every `save_every`; returns (last step, epoch times)."""
    from scenesem_otio.core.progress import progress_bar

    cfg = run.cfg
    stop_at = min(run.total, cfg.stop_after) if cfg.stop_after else run.total
    epoch_times: list[float] = []
    epoch_start = time.perf_counter()
    last = start_step
    run.module.train()
    with progress_bar("training", total=stop_at - start_step, unit="steps",
                      enabled=cfg.progress and run.accelerator.is_main_process) as advance:
        for step in range(start_step, stop_at):
            run.state.logs.append(train_step(run, step))
            last = step + 1
            advance(1)
            if last % run.steps_per_epoch == 0:
                epoch_times.append(time.perf_counter() - epoch_start)
                epoch_start = time.perf_counter()
            if last % cfg.save_every == 0 and last < run.total:
                save(run, last, final=False)
    return last, epoch_times


def cut_embedder(run: Run) -> SceneEmbedder:
    """The run's model as `cut` runs it (eval mode, the run's bf16 autocast), to embed films."""
    from scenesem_otio.model.embedder import SceneEmbedder

    model = SceneEmbedder(run.embedder.backbone, run.embedder.head, run.state.meta).eval()
    model.autocast_dtype = torch.bfloat16 if run.mixed == "bf16" else None
    return model


def cross_fitted(run: Run) -> list[LabelledFilm]:
    """Each training film embedded by a model trained without it (`--boundary-folds K`).

    The contrastive stage separates the scenes of its own training films more cleanly than
    those of any new film (cosine-rule AP 0.77 on its training films, 0.68 on held-out ones),
    so a boundary model fitted only on in-sample embeddings learns cues that are too clean.
    Cross-fitting (as in stacking) gives it embeddings as unseen films get them: K runs with
    the same settings, each leaving one fold of the training films out, embed that fold.
    Every rank trains the fold runs (they are ordinary runs); the main one embeds.
    """
    from dataclasses import replace as replace_item

    from scenesem_otio.train.calibration import embed_films

    cfg = run.cfg
    videos = run.videos("train")
    order = np.random.default_rng([cfg.seed, 4242]).permutation(len(videos))
    parts = [sorted(videos[i] for i in part)
             for part in np.array_split(order, min(folds(cfg), len(videos)))]
    films: list[LabelledFilm] = []
    for f, held in enumerate(parts):
        log.info("cross-fitting: fold %d/%d leaves %d training films out", f + 1, len(parts),
                 len(held))
        items = [replace_item(it, split="held-out") if i in held else it
                 for i, it in enumerate(run.items)]
        # The same number of steps as the run itself: with steps cut to the fold's share of
        # the scenes (the same epochs) the tiny demo model gained +0.016 F1, not +0.042.
        sub_cfg = replace(cfg, boundary_model=False, boundary_folds=0, resume=False,
                          stop_after=None, save_every=10**9, seed=cfg.seed + 1 + f)
        sub = build_run(sub_cfg, items)
        sub.state.cache = open_cache(sub)
        fit(sub, 0)
        if run.accelerator.is_main_process:
            films.extend(embed_films(cut_embedder(sub), [run.items[i] for i in held],
                                     cfg.progress, cfg.label_mode))
        del sub
    return films


def cross_fitting_applies(run: Run) -> bool:
    """Cross-fit when asked and there are films to hold out: a fold run leaves films out, so
    with one training film (a user's first project) it would train on nothing. Says so."""
    cfg = run.cfg
    if not (folds(cfg) and cfg.boundary_model):
        return False
    n_train = len(run.videos("train"))
    if n_train < 2:
        log.warning("cross-fitting skipped: %d training film (--boundary-folds %d needs at "
                    "least 2); the boundary model learns on in-sample embeddings only",
                    n_train, folds(cfg))
        return False
    return True


def calibrate(run: Run, extra_train: list[LabelledFilm] | None = None) -> Calibration:
    """Second stage and calibration on the main process (SPEC §2.6–2.7, issue 15).

    The trained model embeds the training and validation films as `cut` would; θ and the
    minimum scene are chosen on the validation split (on the training films without one) for
    the cosine rule, then, with `boundary_model`, a contextual boundary model is trained on the
    training films' frozen shot embeddings and calibrated the same way: `cut` uses it.
    """
    from scenesem_otio.train.calibration import (
        boundary_scored,
        boundary_stage,
        calibration_of,
        cosine_scored,
        embed_films,
        shots_record,
    )

    split = "val" if run.videos("val") else "train"
    if not run.accelerator.is_main_process:
        return Calibration(split=split)
    now = run.state
    if split == "train":
        log.warning("calibration: no validation films (split: val); θ and minimum scene are "
                    "chosen on the %d training film(s), in-sample", len(run.videos("train")))
    model = cut_embedder(run)
    progress = run.cfg.progress
    mode = run.cfg.label_mode
    val = embed_films(model, [run.items[i] for i in run.videos(split)], progress, mode)
    cosine = calibration_of(cosine_scored(val), split)
    now.meta = now.meta.with_record(cosine_calibration=asdict(cosine), shots=shots_record())
    if not run.cfg.boundary_model:
        run.module.train()
        return cosine
    if run.cfg.boundary_training == "joint":
        assert now.boundary is not None  # `build_run` made it
        now.boundary.eval()
        calib = calibration_of(boundary_scored(now.boundary, val), split)
        stats = {"training": "joint", "weight": run.cfg.boundary_weight,
                 "films": len(run.table.shot_films),
                 "bce_last10": float(np.mean([r["boundary_bce"] for r in now.logs[-10:]]))
                 if now.logs else None}
        now.meta = now.meta.with_record(boundary_model=stats)
        run.module.train()
        return calib
    train_films = embed_films(model, [run.items[i] for i in run.videos("train")], progress,
                              mode)
    now.boundary, calib, stats = boundary_stage([*train_films, *(extra_train or [])], val,
                                                split, run.cfg.seed, run.cfg.boundary_members,
                                                colour=run.cfg.boundary_colour)
    now.meta = now.meta.with_record(boundary_model={
        "training": "stage", "cross_fitted_films": len(extra_train or []), **stats})
    run.module.train()
    return calib


def train(cfg: TrainConfig) -> TrainSummary:
    """Run training; writes the checkpoint directory `cfg.out_dir` and returns a summary."""
    check_config(cfg)
    if not cfg.progress:
        from scenesem_otio.core.progress import quiet_library_bars

        quiet_library_bars()
    run = build_run(cfg)
    now = run.state
    start_step = restore(run) if cfg.resume else 0
    now.cache = open_cache(run)
    last, epoch_times = fit(run, start_step)
    summary = TrainSummary(steps=last, total=run.total, text_a=now.text_a, text_b=now.text_b,
                           steps_per_epoch=run.steps_per_epoch,
                           world=run.accelerator.num_processes, epoch_times_s=epoch_times)
    if now.cache is not None:
        summary.cache_hits, summary.cache_misses = now.cache.hits, now.cache.misses
    if now.logs:
        summary.loss_first10 = float(np.mean([r["loss"] for r in now.logs[:10]]))
        summary.loss_last10 = float(np.mean([r["loss"] for r in now.logs[-10:]]))
    if last < run.total:
        save(run, last, final=False)
        summary.stopped = True
        return summary
    fitted = cross_fitted(run) if cross_fitting_applies(run) else None
    summary.calibration = calibrate(run, fitted)
    summary.cosine_calibration = now.meta.record.get("cosine_calibration")
    now.meta = replace(now.meta, calibration=summary.calibration)
    save(run, last, final=True)
    run.accelerator.end_training()
    return summary
