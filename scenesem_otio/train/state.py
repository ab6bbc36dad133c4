"""Trainer state that survives a restart, as safetensors + JSON (never pickle).

The optimizer's tensors go to safetensors and its scalars to JSON; the frozen prefix's
outputs go to a memory-mapped fp16 cache keyed by the weights and pixels that made them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

if TYPE_CHECKING:
    from scenesem_otio.model.embedder import SceneEmbedder
    from scenesem_otio.train.clips import ClipTable

STATE_TENSORS = "trainer_state.safetensors"
STATE_JSON = "trainer_state.json"
METRICS = "metrics.jsonl"


def lr_lambda(total: int, warmup: int, *, overlap: bool = False) -> Callable[[int], float]:
    """Linear warm-up, then cosine decay to 0 (SPEC §3.4): the one home of the LR schedule.

    `overlap`: the cosine runs over all `total` steps and the warm-up scales its start (the
    boundary model's schedule, kept as it was fitted); otherwise the cosine starts after it.
    """
    def f(step: int) -> float:
        if overlap:
            return float(min(1.0, (step + 1) / warmup) * 0.5
                         * (1 + np.cos(np.pi * min(step, total) / total)))
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return f


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


class FeatureCache:
    """Frozen-prefix outputs per clip, fp16 in a memory-mapped file, filled on first use."""

    def __init__(self, directory: str, n_clips: int, shape: tuple[int, ...],
                 fingerprint: str) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        base = self.dir / f"prefix-{fingerprint[:16]}"
        self.data_path = base.with_suffix(".f16")
        self.done_path = base.with_suffix(".done.npy")
        full = (n_clips, *shape)
        mode: Literal["r+", "w+"] = "r+" if self.data_path.exists() else "w+"
        self.data = np.memmap(self.data_path, dtype=np.float16, mode=mode, shape=full)
        self.done = (np.load(self.done_path) if self.done_path.exists()
                     else np.zeros(n_clips, bool))
        self.hits = 0
        self.misses = 0

    def get(self, idx: np.ndarray, compute: Callable[[np.ndarray], torch.Tensor]
            ) -> torch.Tensor:
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


def fingerprint(embedder: SceneEmbedder, start_layer: int, table: ClipTable) -> str:
    """Hash of the frozen weights and the training pixels: a cache filled by other weights or
    data is never reused."""
    h = hashlib.sha256()
    for name, p in embedder.backbone.prefix_parameters(start_layer):
        h.update(name.encode())
        h.update(p.detach().cpu().float().numpy().tobytes())
    h.update(str(table.pixels.shape).encode())
    h.update(hashlib.sha256(table.pixels[:, ::4, ::8, ::8].tobytes()).digest())
    return h.hexdigest()


def read_metrics(path: Path, step: int) -> list[dict[str, Any]]:
    """Rows logged up to `step` by the run being resumed."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("step", 0) <= step]
