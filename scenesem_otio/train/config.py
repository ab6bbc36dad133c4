"""Training options and what a run reports (SPEC §3.3–3.4), each default defined once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scenesem_otio.train.boundary import DEFAULT_MEMBERS

if TYPE_CHECKING:
    from scenesem_otio.model.meta import Calibration

# How the boundary model learns: "stage", after the embeddings on their frozen shot
# embeddings; "joint", its BCE added to every contrastive step (train.joint).
BOUNDARY_TRAINING = ("stage", "joint")


@dataclass(frozen=True)
class TrainConfig:
    """Everything `scenesem train` can be told; saved into the checkpoint's record."""

    data: list[str]  # manifests, FineVideo folders or shards
    out_dir: str  # checkpoint directory
    base_model: str = "auto"  # auto, embedded, hub id, save_pretrained dir or checkpoint
    unfreeze: int = 2  # train the last K encoder layers (SPEC: 2–4)
    label_mode: str = "scene"  # "scene": scene-level labels; "frame": per-frame label files
    mapping: str = "linear"  # text similarity -> soft weights: "linear" or "squared"
    lambda_neg: float = 1.0  # λ: weight of L_neg in L_sem
    alpha: float = 1.0  # α: weight of L_sem in L (0 = visual only)
    text_window: tuple[float, float] = (5.0, 95.0)  # percentiles of s_ij giving a, b (§3.3)
    margin: float = 0.0  # m in L_neg
    temperature: float = 0.1  # of the supervised contrastive L_seg
    text_model: str | None = None  # None: the offline MiniLM when installed
    steps: int | None = None  # optimiser steps (or epochs)
    epochs: int | None = None  # passes over the training scenes; 3 when neither is given
    batch_scenes: int = 8  # scenes per step
    clips_per_scene: int = 2
    lr_head: float = 1e-3
    lr_backbone: float = 1e-5
    weight_decay: float = 0.01
    warmup: float = 0.05  # share of steps
    grad_clip: float = 1.0
    head_hidden: int = 512
    head_out: int = 256
    save_every: int = 100  # steps between checkpoints
    boundary_model: bool = True  # train the contextual boundary model after the embeddings
    boundary_members: int = DEFAULT_MEMBERS  # boundary models averaged (seeds), stage mode
    boundary_colour: bool = True  # stage mode: it also reads the shots' colour histograms
    boundary_training: str = "stage"  # one of BOUNDARY_TRAINING
    boundary_weight: float = 1.0  # λ_b: weight of the joint boundary BCE in L
    # K ≥ 2: the second stage also learns on cross-fitted embeddings (K more runs); 0: off;
    # None: DEFAULT_FOLDS with --boundary-training stage, 0 with joint (see `folds`).
    boundary_folds: int | None = None
    cache_features: str | None = None  # folder for the frozen prefix's outputs
    seed: int = 0
    resume: bool = False
    stop_after: int | None = None  # leave the run resumable after this step
    precision: str = "auto"
    progress: bool = True
    keep: float | None = None  # issue 16: VideoMAE tokens seen; None: base checkpoint's, else
    # config.DEFAULT_KEEP. Training, the feature cache, calibration and later cuts share it.


# Demo held-out films, 3 seeds: tiny VideoMAE F1 0.741 -> 0.783, embedded 0.817 -> 0.824.
DEFAULT_FOLDS = 2


def folds(cfg: TrainConfig) -> int:
    """The cross-fitting folds a run uses: the default only where it applies (stage mode)."""
    if cfg.boundary_folds is not None:
        return cfg.boundary_folds
    return DEFAULT_FOLDS if cfg.boundary_training == "stage" and cfg.boundary_model else 0


@dataclass
class TrainSummary:
    """What a run did; the CLI prints it."""

    steps: int
    total: int
    text_a: float
    text_b: float
    steps_per_epoch: int
    world: int
    epoch_times_s: list[float] = field(default_factory=list)
    loss_first10: float | None = None
    loss_last10: float | None = None
    stopped: bool = False
    cache_hits: int | None = None
    cache_misses: int | None = None
    calibration: Calibration | None = None  # once the run finished
    cosine_calibration: dict[str, Any] | None = None  # the cosine rule's (asdict), when a
    # boundary model was trained
