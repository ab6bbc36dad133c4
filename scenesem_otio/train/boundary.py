"""Training, second stage: the contextual boundary model on frozen shot embeddings.

Each film is its shot embeddings, one 0/1 label per shot transition, the shot starts and the
film's duration. Scene-level truth (scene starts in seconds) and frame-level labels both reduce
to those per-transition labels here, so the model never sees how the truth was written.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from scenesem_otio.core.errors import DataError
from scenesem_otio.evaluate.metrics import matched_pairs
from scenesem_otio.train.augment import DIM_DROPOUT, NOISE, perturb

if TYPE_CHECKING:  # torch is imported where it runs: `train.config` reads this module
    import torch
    from torch import nn

    from scenesem_otio.model.boundary import BoundaryEnsemble, BoundaryModel
    from scenesem_otio.train.sources import VideoItem


@dataclass
class FilmShots:
    """What the boundary model trains on for one film."""

    emb: np.ndarray  # [n, E] shot embeddings (the head's, normalised)
    labels: np.ndarray  # [n − 1] 1 where the transition is a scene cut
    shot_starts_s: np.ndarray  # [n] seconds
    duration_s: float
    name: str = ""

    def __post_init__(self) -> None:
        self.emb = np.asarray(self.emb, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.float32)
        self.shot_starts_s = np.asarray(self.shot_starts_s, dtype=np.float64)
        n = len(self.emb)
        if self.emb.ndim != 2 or len(self.shot_starts_s) != n or len(self.labels) != max(n - 1, 0):
            raise DataError(f"{self.name or 'film'}: need [n, E] embeddings, n shot starts and "
                            f"n − 1 labels (got {list(self.emb.shape)}, "
                            f"{len(self.shot_starts_s)}, {len(self.labels)})")


def transition_labels(truth_starts_s: Sequence[float] | np.ndarray,
                      shot_starts_s: Sequence[float] | np.ndarray,
                      tolerance: float = 0.5) -> np.ndarray:
    """Scene truth -> one label per shot transition (n shots -> n − 1 labels).

    Transition k is the cut at `shot_starts_s[k + 1]`. Each true scene start (> 0) marks the
    nearest transition within `tolerance` seconds, one to one (closest pairs first, as the
    evaluation matches): a true cut the shot detector missed marks nothing, and two true cuts
    never land on one transition.
    """
    cuts = np.asarray(shot_starts_s, dtype=np.float64)[1:]
    truth = [float(t) for t in truth_starts_s if t > 0]
    labels = np.zeros(len(cuts), dtype=np.float32)
    for k, _ in matched_pairs(list(cuts), truth, tolerance):
        labels[k] = 1.0
    return labels


def starts_from_frame_labels(frame_labels: Sequence[object] | np.ndarray, fps: float
                             ) -> list[float]:
    """Frame-level labels (one scene id per frame) -> scene starts in seconds (first is 0).

    A new scene starts wherever the label changes; feed the result to `transition_labels`.
    """
    labels = list(frame_labels)
    starts = [0.0]
    for i in range(1, len(labels)):
        if labels[i] != labels[i - 1]:
            starts.append(i / float(fps))
    return starts


def truth_starts_s(item: VideoItem, label_mode: str) -> list[float]:
    """A training film's true scene starts in seconds (first is 0), from its scenes or, in
    label mode "frame", from its per-frame labels: what every boundary stage learns from."""
    fps = float(item.info.fps)
    if label_mode == "frame" and item.frame_labels is not None:
        return starts_from_frame_labels(item.frame_labels, fps)
    return sorted({0.0, *(s.start / fps for s in item.scenes)})


def _crop(film: FilmShots, rng: np.random.Generator, min_len: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random run of consecutive shots: the model must not rely on where a film starts."""
    from scenesem_otio.model.boundary import shot_durations

    n = len(film.emb)
    durations = shot_durations(film.shot_starts_s, film.duration_s)
    length = int(rng.integers(min(min_len, n), n + 1))
    a = int(rng.integers(0, n - length + 1))
    return film.emb[a : a + length], durations[a : a + length], film.labels[a : a + length - 1]


DEFAULT_MEMBERS = 5  # boundary models averaged (BoundaryEnsemble): +0.04 F1 over one


def train_boundary_models(films: Sequence[FilmShots], *, members: int = DEFAULT_MEMBERS,
                          seed: int = 0, **kwargs: Any
                          ) -> tuple[BoundaryModel | BoundaryEnsemble, dict[str, Any]]:
    """`members` boundary models (seeds seed, seed + 7919, …) as one `BoundaryEnsemble`;
    with one member, exactly `train_boundary_model`'s model. Same keywords as that."""
    from scenesem_otio.model.boundary import BoundaryEnsemble

    if members < 1:
        raise DataError(f"boundary model: members must be ≥ 1, not {members}")
    runs = [train_boundary_model(films, seed=seed + 7919 * m, **kwargs) for m in range(members)]
    if members == 1:
        return runs[0]
    stats = {**runs[0][1], "members": members,
             "member_seeds": [r[1]["seed"] for r in runs],
             "loss_last10": float(np.mean([r[1]["loss_last10"] for r in runs])),
             "wall_s": float(sum(r[1]["wall_s"] for r in runs))}
    return BoundaryEnsemble([m for m, _ in runs]).eval(), stats


def train_boundary_model(films: Sequence[FilmShots], *, window: int = 4, steps: int = 200,
                         seed: int = 0, batch_films: int = 8, lr: float = 2e-3,
                         weight_decay: float = 0.01, crop_min: int = 12, noise: float = NOISE,
                         dim_dropout: float = DIM_DROPOUT, duration_jitter: float = 0.15,
                         config: dict[str, Any] | None = None,
                         val_films: Sequence[FilmShots] | None = None,
                         eval_every: int = 50) -> tuple[BoundaryModel, dict[str, Any]]:
    """Fit a `BoundaryModel` with class-balanced BCE; returns (model in eval mode, stats).

    Augmentation, so that a model fitted on ~20 films judges unseen ones: random crops of the
    shot sequence, Gaussian noise on the embeddings (norm ≈ `noise`), dropped embedding
    dimensions and jittered shot durations. Deterministic for a seed (the global torch RNG is
    left as it was); runs on one CPU thread (see `one_thread`). With `val_films`, the
    weights with the lowest validation loss are kept.
    """
    import torch
    import torch.nn.functional as F

    from scenesem_otio.model.boundary import BoundaryModel, one_thread

    films, n_pos, n_all, emb_dim = _usable(films)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]), one_thread():
        torch.manual_seed(seed)
        model = BoundaryModel(**{**(config or {}), "emb_dim": emb_dim, "window": window})
        pos_weight = torch.tensor((n_all - n_pos) / n_pos)
        opt, sched = _optimiser(model, lr, weight_decay, steps)
        losses: list[float] = []
        val_curve: list[tuple[int, float]] = []
        best: tuple[float, dict[str, Any] | None, int] = (float("inf"), None, 0)
        model.train()
        for step in range(steps):
            logits, targets = _augmented_batch(model, films, rng, batch_films, crop_min, noise,
                                               dim_dropout, duration_jitter)
            loss = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if val_films and ((step + 1) % eval_every == 0 or step + 1 == steps):
                v = _val_loss(model, val_films, pos_weight)
                val_curve.append((step + 1, v))
                if v < best[0]:
                    best = (v, {k: t.detach().clone() for k, t in model.state_dict().items()},
                            step + 1)
                model.train()
        if best[1] is not None:
            model.load_state_dict(best[1])
    model.eval()
    stats: dict[str, Any] = {
        "films": len(films), "transitions": int(n_all), "scene_cuts": int(n_pos),
        "steps": steps, "seed": seed, "window": window,
        "loss_first10": float(np.mean(losses[:10])), "loss_last10": float(np.mean(losses[-10:])),
        "wall_s": time.perf_counter() - start,
        **({"val_loss": val_curve, "best_step": best[2]} if val_curve else {})}
    return model, stats


def _optimiser(model: nn.Module, lr: float, weight_decay: float, steps: int
               ) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW with a tenth of the steps warming up under the cosine (`state.lr_lambda`)."""
    import torch

    from scenesem_otio.train.state import lr_lambda

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    return opt, torch.optim.lr_scheduler.LambdaLR(
        opt, lr_lambda(steps, max(1, steps // 10), overlap=True))


def _usable(films: Sequence[FilmShots]) -> tuple[list[FilmShots], float, float, int]:
    """Films of ≥ 2 shots, with both labels present and one embedding size, or a DataError."""
    films = [f for f in films if len(f.emb) >= 2]
    if not films:
        raise DataError("boundary model: no training film has two shots or more")
    n_pos = float(sum(f.labels.sum() for f in films))
    n_all = float(sum(len(f.labels) for f in films))
    if n_pos == 0 or n_pos == n_all:
        raise DataError("boundary model: the training films need both scene cuts and shot "
                        f"cuts inside scenes (got {int(n_pos)} cuts of {int(n_all)})")
    emb_dim = films[0].emb.shape[1]
    if any(f.emb.shape[1] != emb_dim for f in films):
        raise DataError("boundary model: films with different embedding sizes")
    return films, n_pos, n_all, emb_dim


def _augmented_batch(model: nn.Module, films: Sequence[FilmShots], rng: np.random.Generator,
                     batch_films: int, crop_min: int, noise: float, dim_dropout: float,
                     duration_jitter: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One step's (logits, targets): random crops of random films, with embedding noise,
    dropped dimensions and jittered durations (what lets ~20 films generalise)."""
    import torch

    pick = rng.choice(len(films), size=min(batch_films, len(films)), replace=False)
    logits, targets = [], []
    for i in pick:
        emb, dur, lab = _crop(films[int(i)], rng, crop_min)
        if len(emb) < 2:
            continue
        x = perturb(emb, lambda shape: rng.normal(size=shape), rng.random, noise, dim_dropout)
        d = dur * np.exp(rng.normal(size=len(dur)) * duration_jitter)
        logits.append(model(torch.from_numpy(x.astype(np.float32)),
                            torch.from_numpy(np.log(d + 0.1)).float()))
        targets.append(torch.from_numpy(lab))
    return torch.cat(logits), torch.cat(targets)


def _val_loss(model: nn.Module, films: Sequence[FilmShots], pos_weight: torch.Tensor
              ) -> float:
    """Class-balanced BCE on whole validation films, no augmentation."""
    import torch
    import torch.nn.functional as F

    from scenesem_otio.model.boundary import features_log_durations

    model.eval()
    logits, targets = [], []
    with torch.no_grad():
        for f in films:
            if len(f.emb) < 2:
                continue
            logits.append(model(torch.from_numpy(f.emb), torch.from_numpy(
                features_log_durations(f.shot_starts_s, f.duration_s)).float()))
            targets.append(torch.from_numpy(f.labels))
    return float(F.binary_cross_entropy_with_logits(torch.cat(logits), torch.cat(targets),
                                                    pos_weight=pos_weight))
