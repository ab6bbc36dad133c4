"""Segment stage, learned: a contextual boundary model over ±W shot embeddings (SPEC §2.6).

Its probability per shot transition replaces the cosine rule's b_k when a checkpoint carries
one; stored beside the checkpoint as `boundary.json` + `boundary.safetensors` (never pickle).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scenesem_otio.core.errors import CheckpointError

CONFIG_FILE = "boundary.json"
WEIGHTS_FILE = "boundary.safetensors"

DEFAULTS: dict[str, Any] = {
    "emb_dim": 256,  # input size per shot: the head's output size (+ colour_dim)
    # W: each transition sees W shots on either side. On the demo films W = 8 fitted the 16
    # training films perfectly (AP 0.95) and reached test AP 0.77; W = 4 reached 0.80.
    "window": 4,
    "hidden": 64,
    "layers": 2,
    "heads": 4,
    "dropout": 0.3,
    "cos_windows": [1, 2, 3, 4],  # cosine-rule scores fed as hand features
    "use_raw": True,  # also feed a projection of the embeddings themselves
    "use_durations": True,  # log shot duration per token
    "standardise": False,  # cosines as z-scores over the film's neighbouring-shot cosines
    # Size of the shot colour histograms read beside the embeddings (0: none, as in models
    # trained before colour was read; `boundary_inputs` says how the two are joined).
    "colour_dim": 0,
}


def boundary_inputs(shot_emb: np.ndarray, colours: np.ndarray | None, colour_dim: int
                    ) -> np.ndarray:
    """What the boundary model reads per shot: the unit embedding, joined (with `colour_dim`)
    by the unit square root of its colour histogram (Hellinger), so that every cosine the
    model sees is the mean of an embedding cosine and a colour cosine.

    On the demo's films with the tiny VideoMAE (3 seeds, boundary stage without folds) the
    colour half took held-out F1 from 0.779 ± 0.043 to 0.888 ± 0.022 and AP from 0.81 to 0.94.
    """
    emb = np.asarray(shot_emb, dtype=np.float32)
    unit = emb / np.maximum(np.linalg.norm(emb, axis=-1, keepdims=True), 1e-12)
    if not colour_dim:
        return unit
    if colours is None:
        raise ValueError("this boundary model reads shot colours: pass the film's colour "
                         "histograms (pipeline.embed_film computes them)")
    hist = np.sqrt(np.maximum(np.asarray(colours, dtype=np.float32), 0.0))
    if hist.shape != (len(emb), colour_dim):
        raise ValueError(f"shot colours of shape [{len(emb)}, {colour_dim}] needed, "
                         f"got {list(hist.shape)}")
    hist = hist / np.maximum(np.linalg.norm(hist, axis=-1, keepdims=True), 1e-12)
    return np.concatenate([unit, hist], axis=-1)


def shot_durations(shot_starts_s: Sequence[float] | np.ndarray, duration_s: float
                   ) -> np.ndarray:
    """Seconds per shot from the shot starts and the film's end."""
    starts = np.asarray(shot_starts_s, dtype=np.float64)
    ends = np.append(starts[1:], float(duration_s))
    return np.maximum(ends - starts, 0.0)


def cosine_scores(v: torch.Tensor, window: int) -> torch.Tensor:
    """The cosine rule of `segment.boundary_scores` in torch ([n, E] unit rows -> [n−1])."""
    n = v.shape[0]
    prefix = torch.cat([v.new_zeros(1, v.shape[1]), torch.cumsum(v, 0)])
    k = torch.arange(n - 1, device=v.device)
    lo = torch.clamp(k - window + 1, min=0)
    hi = torch.clamp(k + 1 + window, max=n)
    left = F.normalize(prefix[k + 1] - prefix[lo], dim=-1)
    right = F.normalize(prefix[hi] - prefix[k + 1], dim=-1)
    return (1.0 - (left * right).sum(-1).clamp(-1.0, 1.0)) / 2.0


def standardised(v: torch.Tensor, sims: torch.Tensor, valid: torch.Tensor, hand: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosines relative to this film's own: how much more alike than its neighbouring shots.

    A contrastive head separates the films it was trained on more cleanly than unseen ones
    (cosine-rule AP 0.77 on its training films, 0.68 on held-out ones), so raw cosine levels
    learnt on training films mislead on new ones; z-scores over the film's neighbouring-shot
    cosines (and each hand score over its transitions) carry over.
    """
    adjacent = (v[:-1] * v[1:]).sum(-1)
    mu, sd = adjacent.mean(), adjacent.std(unbiased=False).clamp_min(0.02)
    sims = torch.where(valid[:, :, None] & valid[:, None, :], (sims - mu) / sd,
                       torch.zeros_like(sims))
    h_mu = hand.mean(0, keepdim=True)
    h_sd = hand.std(0, unbiased=False, keepdim=True).clamp_min(0.01)
    return sims, (hand - h_mu) / h_sd


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block. The model is tiny, so a thread pool only adds
    synchronisation: 20 training steps took 156 s with 2 threads and 15 s with 1 on a busy
    2-core machine (load 14)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class BoundaryModel(nn.Module):
    """P(scene cut) for each shot transition, judged from the 2W shots around it.

    Each transition k (between shots k and k+1) gets a window of shots k−W+1 … k+W. A token
    per shot carries (a) a projection of its unit embedding, (b) its cosines to every shot of
    the window — a pattern that does not depend on where the embedding space puts a film, so
    it carries over to unseen films — and (c) its log duration. A small transformer encoder
    mixes the window; the two shots either side of the cut plus the cosine-rule scores at a
    few window sizes give the logit. Missing shots at the film's ends are masked out.
    """

    def __init__(self, **config: Any) -> None:
        super().__init__()
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown boundary-model settings: {sorted(unknown)}")
        cfg = {**DEFAULTS, **config}
        cfg["cos_windows"] = [int(w) for w in cfg["cos_windows"]]
        self.config = cfg
        w, h = int(cfg["window"]), int(cfg["hidden"])
        self.window = w
        token_in = 2 * w + (1 if cfg["use_durations"] else 0)
        self.sim_proj = nn.Linear(token_in, h)
        self.raw_proj = nn.Linear(int(cfg["emb_dim"]), h) if cfg["use_raw"] else None
        self.position = nn.Parameter(torch.zeros(2 * w, h))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(h, int(cfg["heads"]), 2 * h, float(cfg["dropout"]),
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, int(cfg["layers"]),
                                             enable_nested_tensor=False)
        self.norm = nn.LayerNorm(h)
        n_hand = len(cfg["cos_windows"])
        self.out = nn.Sequential(nn.Linear(2 * h + n_hand, h), nn.GELU(),
                                 nn.Dropout(float(cfg["dropout"])), nn.Linear(h, 1))

    # ------------------------------------------------------------ persistence

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BoundaryModel:
        """Rebuild the (untrained) network from its JSON config; load weights with
        `load_state_dict` or use `load_boundary_model`."""
        return cls(**config)

    # ------------------------------------------------------------ forward

    def forward(self, emb: torch.Tensor, log_dur: torch.Tensor) -> torch.Tensor:
        """[n, E] shot embeddings (any norm) + [n] log durations -> [n−1] logits."""
        n = emb.shape[0]
        if n < 2:
            return emb.new_zeros(0)
        v = F.normalize(emb.float(), dim=-1)
        w = self.window
        k = torch.arange(n - 1, device=v.device)
        offsets = torch.arange(-w + 1, w + 1, device=v.device)  # 2W positions
        idx = k[:, None] + offsets[None, :]  # [n−1, 2W]
        valid = (idx >= 0) & (idx < n)
        idx_c = idx.clamp(0, n - 1)
        win = v[idx_c] * valid[..., None]  # [n−1, 2W, E]
        sims = torch.einsum("bie,bje->bij", win, win)  # zeros where a shot is missing
        hand = torch.stack([cosine_scores(v, cw) for cw in self.config["cos_windows"]], -1)
        if self.config["standardise"]:
            sims, hand = standardised(v, sims, valid, hand)
        parts = [sims]
        if self.config["use_durations"]:
            parts.append((log_dur.float()[idx_c] * valid)[..., None])
        x = self.sim_proj(torch.cat(parts, -1))
        if self.raw_proj is not None:
            x = x + self.raw_proj(win)
        x = x + self.position[None]
        x = self.encoder(x, src_key_padding_mask=~valid)
        x = self.norm(x)
        centre = torch.cat([x[:, w - 1], x[:, w]], -1)
        return self.out(torch.cat([centre, hand], -1)).squeeze(-1)

    @torch.no_grad()
    def predict(self, shot_emb: np.ndarray, shot_starts_s: Sequence[float],
                duration_s: float, colours: np.ndarray | None = None) -> np.ndarray:
        """Boundary probability per transition: n shots -> n−1 values in (0, 1).

        `colours`: the shots' colour histograms, needed when the model reads them.
        """
        emb = np.asarray(shot_emb, dtype=np.float32)
        colour_dim = int(self.config.get("colour_dim", 0))
        width = int(self.config["emb_dim"]) - colour_dim
        if emb.ndim != 2 or emb.shape[1] != width:
            raise ValueError(f"shot embeddings of shape [n, {width}] needed, "
                             f"got {list(emb.shape)}")
        emb = boundary_inputs(emb, colours, colour_dim)
        if len(shot_starts_s) != len(emb):
            raise ValueError("need one start time per shot embedding")
        if len(emb) < 2:
            return np.zeros(0)
        was_training = self.training
        self.eval()
        try:
            with one_thread():
                log_dur = features_log_durations(shot_starts_s, duration_s)
                logits = self(torch.from_numpy(emb), torch.from_numpy(log_dur).float())
        finally:
            self.train(was_training)
        return torch.sigmoid(logits.double()).numpy()


class BoundaryEnsemble(nn.Module):
    """The mean probability of several boundary models trained with different seeds.

    On ~20 training films one model's test F1 moves by ±0.02–0.03 with its seed; the mean of
    five gained +0.04 F1 on the demo's held-out films (benchmarks/boundary_stage.py) for five
    times a few seconds of training and of a cut's negligible boundary stage.
    """

    def __init__(self, members: Sequence[BoundaryModel]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a boundary ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.config = {**members[0].config, "members": len(members)}

    @torch.no_grad()
    def predict(self, shot_emb: np.ndarray, shot_starts_s: Sequence[float],
                duration_s: float, colours: np.ndarray | None = None) -> np.ndarray:
        """Mean of the members' probabilities per transition (n shots -> n−1 values)."""
        return np.mean([cast(BoundaryModel, m).predict(shot_emb, shot_starts_s, duration_s,
                                                        colours)
                        for m in self.members], axis=0)


def boundary_model_from_config(config: dict[str, Any]) -> BoundaryModel | BoundaryEnsemble:
    """The (untrained) network a stored config describes: one model, or `members` of them."""
    config = dict(config)
    members = int(config.pop("members", 1))
    if members < 1:
        raise ValueError(f"members must be ≥ 1, not {members}")
    if members == 1:
        return BoundaryModel.from_config(config)
    return BoundaryEnsemble([BoundaryModel.from_config(config) for _ in range(members)])


def features_log_durations(shot_starts_s: Sequence[float] | np.ndarray, duration_s: float
                           ) -> np.ndarray:
    """The duration feature exactly as `predict` computes it (training uses the same)."""
    return np.log(shot_durations(shot_starts_s, duration_s) + 0.1)


# ---------------------------------------------------------------- storage


def write_boundary_files(model: BoundaryModel | BoundaryEnsemble, directory: str | os.PathLike,
                         extra: dict[str, Any] | None = None) -> None:
    """Write `boundary.json` (config + `extra`, e.g. calibrated θ) and `boundary.safetensors`
    into `directory`. Meant for `save_checkpoint(..., extra=...)`, whose temp directory is
    swapped in atomically; on its own each file is written atomically too."""
    from safetensors.torch import save as save_bytes

    from scenesem_otio.core.fileio import write_bytes_atomic, write_text_atomic

    directory = Path(directory)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    write_bytes_atomic(directory / WEIGHTS_FILE, save_bytes(state))
    write_text_atomic(directory / CONFIG_FILE, json.dumps(
        {"config": model.config, **(extra or {})}, indent=2))


def read_boundary_extra(directory: str | os.PathLike) -> dict[str, Any]:
    """What `write_boundary_files` stored besides the config (θ, min scene, stats); {} if none."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        return {}
    data = _read_json(path)
    return {k: v for k, v in data.items() if k != "config"}


def load_boundary_model(directory: str | os.PathLike
                        ) -> BoundaryModel | BoundaryEnsemble | None:
    """The boundary model stored in a checkpoint directory, or None when it carries none."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    path = directory / CONFIG_FILE
    if not path.is_file():
        return None
    data = _read_json(path)
    try:
        model = boundary_model_from_config(data["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: bad boundary-model config ({err})") from None
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{directory}: {CONFIG_FILE} without {WEIGHTS_FILE}")
    try:
        model.load_state_dict(load_file(str(weights)), strict=True)
    except (SafetensorError, RuntimeError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{weights}: weights do not match {CONFIG_FILE} ({first})"
                              ) from None
    return model.eval()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable ({err})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a JSON object")
    return data

