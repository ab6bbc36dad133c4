"""Model stage 4: safetensors checkpoints that carry their own settings (SPEC §3.5).

A checkpoint is a directory: `scenesem.json` (a `ModelMeta`: backbone config, trained layers,
head dims, clip sampling, calibrated θ and minimum scene, text a/b, the training record),
`model.safetensors` and the backbone's `config.json`. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from scenesem_otio.config import SamplingOptions
from scenesem_otio.errors import CheckpointError
from scenesem_otio.fileio import atomic_dir

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


def save_checkpoint(embedder: Any, directory: str | os.PathLike, meta: ModelMeta | None = None,
                    extra: Any = None) -> None:
    """Write the checkpoint directory atomically (old one kept until the new one is whole).

    `meta` defaults to the embedder's own; the backbone config, head dims and clip shape are
    always taken from the model itself.

    `extra(tmp_dir)` may add files (trainer state, metrics) inside the same atomic swap.
    """
    import torch
    import transformers
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    from scenesem_otio import __version__

    backbone = embedder.backbone
    config = backbone.config if isinstance(backbone.config, dict) else backbone.config.to_dict()
    meta = meta or embedder.meta
    meta = replace(meta, backbone_config=config,
                   head=embedder.head.dims if embedder.head is not None else None,
                   sampling=meta.sampling.resolved(backbone.num_frames, backbone.image_size),
                   keep=getattr(backbone, "keep", 1.0))  # issue 16: what the model ran with
    data = meta.to_json()
    data["versions"] = {"scenesem": __version__, "torch": torch.__version__,
                        "transformers": transformers.__version__}
    state = {k: v.detach().cpu().contiguous() for k, v in embedder.state_dict().items()}
    try:
        with atomic_dir(directory) as tmp:
            save_file(state, str(tmp / WEIGHTS_FILE))
            (tmp / "config.json").write_text(json.dumps(config, indent=2, default=str))
            (tmp / META_FILE).write_text(json.dumps(data, indent=2, default=str))
            if extra is not None:
                extra(tmp)
    except (OSError, SafetensorError) as err:  # disk full, quota, permissions
        detail = getattr(err, "strerror", None) or str(err).split(": ")[-1]
        raise CheckpointError(f"{directory}: cannot write the checkpoint ({detail}); the "
                              "previous checkpoint, if any, is untouched") from None


def read_meta(directory: str | os.PathLike) -> ModelMeta:
    directory = Path(directory)
    try:
        return ModelMeta.from_json(json.loads((directory / META_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{directory}: unreadable {META_FILE} ({err})") from None


def load_checkpoint(directory: str | os.PathLike) -> Any:
    """Rebuild a SceneEmbedder (with its `meta`) from a scenesem checkpoint directory alone."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from scenesem_otio.model.embedder import SceneEmbedder
    from scenesem_otio.model.head import EmbeddingHead

    directory = Path(directory)
    meta = read_meta(directory)
    if not (directory / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{directory}: missing {WEIGHTS_FILE}")
    head = EmbeddingHead(*meta.head) if meta.head else None
    embedder = SceneEmbedder(_backbone_from_config(directory, meta.backbone_config), head, meta)
    if hasattr(embedder.backbone, "set_keep"):  # issue 16: the keep it was trained with
        embedder.backbone.set_keep(meta.keep if meta.keep is not None else 1.0)
    try:
        embedder.load_state_dict(load_file(str(directory / WEIGHTS_FILE)), strict=True)
    except (SafetensorError, RuntimeError, OSError) as err:
        raise CheckpointError(f"{directory}: weights do not match the model "
                              f"({str(err).splitlines()[0][:200]})") from None
    from scenesem_otio.model.boundary import load_boundary_model

    embedder.set_boundary(load_boundary_model(directory))
    return embedder


def _backbone_from_config(directory: Path, config: dict[str, Any]) -> Any:
    """The backbone family the config names (random weights; the state dict fills them)."""
    from scenesem_otio.model.efficientnet import FAMILY, ImageBackbone

    try:
        if config.get("family") == FAMILY:
            return ImageBackbone.from_config(config)
        from transformers import VideoMAEConfig

        from scenesem_otio.model.backbone import VideoBackbone

        return VideoBackbone.from_config(VideoMAEConfig.from_dict(config))
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{directory}: unreadable {META_FILE} ({err})") from None
