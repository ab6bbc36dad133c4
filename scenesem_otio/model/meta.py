"""What a model is besides its weights: `ModelMeta` (the JSON `scenesem.json` of a checkpoint)
and its `Calibration`.

Its own module so that the embedder (which carries a meta) and the checkpoint reader/writer
(which builds an embedder) both import it and not each other.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from scenesem_otio.core.config import SamplingOptions
from scenesem_otio.core.errors import CheckpointError

FORMAT = 1
META_FILE = "scenesem.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class Calibration:
    """θ and minimum scene length chosen on a validation split for boundary F1."""

    threshold: float | None = None  # θ on the boundary score
    min_scene_s: float | None = None  # seconds
    f1: float | None = None  # boundary F1 at that choice
    split: str | None = None  # "val", or "train" when the data had no validation split


@dataclass(frozen=True)
class ModelMeta:
    """What a model needs besides its weights; `scenesem.json` is its JSON form.

    `record` keeps the training run's facts (text calibration a/b, loss settings, step, the
    resolved training options) that `cut` does not read but a user auditing a model does.
    """

    backbone: str | None = None  # where the backbone came from (hub id or directory)
    backbone_config: dict[str, Any] = field(default_factory=dict)  # rebuilds the backbone
    head: tuple[int, int, int] | None = None  # (d, hidden, out); None: no trained head
    pooling: str = "mean+fc_norm"
    unfreeze: int = 0  # encoder layers that were trained
    sampling: SamplingOptions = field(default_factory=SamplingOptions)
    calibration: Calibration = field(default_factory=Calibration)
    record: dict[str, Any] = field(default_factory=dict)
    # issue 16: fraction of VideoMAE tokens the backbone saw in training and calibration;
    # None: not a trained model (cut takes config.DEFAULT_KEEP). Checkpoints written before
    # this field existed saw every token: they read back as 1.0.
    keep: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Flat JSON, as scenesem.json has always been written."""
        return {
            "format": FORMAT, "backbone": self.backbone,
            "backbone_config": self.backbone_config, "pooling": self.pooling,
            "head": list(self.head) if self.head else None, "unfreeze": self.unfreeze,
            "sampling": asdict(self.sampling), "keep": self.keep,
            "threshold": self.calibration.threshold,
            "min_scene_s": self.calibration.min_scene_s,
            "calibration_f1": self.calibration.f1, "calibrated_on": self.calibration.split,
            **self.record,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelMeta:
        known = {"format", "backbone", "backbone_config", "pooling", "head", "unfreeze",
                 "sampling", "threshold", "min_scene_s", "calibration_f1", "calibrated_on",
                 "keep"}
        head = data.get("head")
        return cls(
            backbone=data.get("backbone"), backbone_config=dict(data["backbone_config"]),
            head=tuple(int(x) for x in head) if head else None,  # type: ignore[arg-type]
            pooling=str(data.get("pooling", "mean+fc_norm")),
            unfreeze=int(data.get("unfreeze") or 0),
            sampling=SamplingOptions.from_dict(data.get("sampling")),
            calibration=Calibration(
                threshold=_opt_float(data.get("threshold")),
                min_scene_s=_opt_float(data.get("min_scene_s")),
                f1=_opt_float(data.get("calibration_f1")), split=data.get("calibrated_on")),
            record={k: v for k, v in data.items() if k not in known},
            keep=float(data["keep"]) if data.get("keep") is not None else 1.0,
        )

    def with_record(self, **items: Any) -> ModelMeta:
        return replace(self, record={**self.record, **items})


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def is_checkpoint(path: str | os.PathLike) -> bool:
    return (Path(path) / META_FILE).is_file()


def read_meta(directory: str | os.PathLike) -> ModelMeta:
    directory = Path(directory)
    try:
        return ModelMeta.from_json(json.loads((directory / META_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{directory}: unreadable {META_FILE} ({err})") from None
