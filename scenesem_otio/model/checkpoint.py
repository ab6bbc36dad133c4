"""Model stage 4: safetensors checkpoints that carry their own settings (SPEC §3.5).

A checkpoint is a directory: `scenesem.json` (a `ModelMeta`: backbone config, trained layers,
head dims, clip sampling, calibrated θ and minimum scene, text a/b, the training record),
`model.safetensors` and the backbone's `config.json`. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenesem_otio.core.errors import CheckpointError
from scenesem_otio.core.fileio import atomic_dir
from scenesem_otio.model.embedder import SceneEmbedder
from scenesem_otio.model.meta import META_FILE, WEIGHTS_FILE, ModelMeta, is_checkpoint, read_meta
from scenesem_otio.model.precision import resolve_device, resolve_dtype

if TYPE_CHECKING:
    from scenesem_otio.model.contract import Backbone

log = logging.getLogger("scenesem")

def save_checkpoint(embedder: SceneEmbedder, directory: str | os.PathLike,
                    meta: ModelMeta | None = None,
                    extra: Callable[[Path], None] | None = None) -> None:
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
    config = backbone.config
    meta = meta or embedder.meta
    meta = replace(meta, backbone_config=config,
                   head=embedder.head.dims if embedder.head is not None else None,
                   sampling=meta.sampling.resolved(backbone.num_frames, backbone.image_size),
                   keep=backbone.keep)  # issue 16: what the model ran with
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


def load_checkpoint(directory: str | os.PathLike) -> SceneEmbedder:
    """Rebuild a SceneEmbedder (with its `meta`) from a scenesem checkpoint directory alone."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from scenesem_otio.model.head import EmbeddingHead

    directory = Path(directory)
    meta = read_meta(directory)
    if not (directory / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{directory}: missing {WEIGHTS_FILE}")
    head = EmbeddingHead(*meta.head) if meta.head else None
    embedder = SceneEmbedder(_backbone_from_config(directory, meta.backbone_config), head, meta)
    # issue 16: the keep it was trained with
    embedder.backbone.set_keep(meta.keep if meta.keep is not None else 1.0)
    try:
        embedder.load_state_dict(load_file(str(directory / WEIGHTS_FILE)), strict=True)
    except (SafetensorError, RuntimeError, OSError) as err:
        raise CheckpointError(f"{directory}: weights do not match the model "
                              f"({str(err).splitlines()[0][:200]})") from None
    from scenesem_otio.model.boundary import load_boundary_model

    embedder.set_boundary(load_boundary_model(directory))
    return embedder


def _backbone_from_config(directory: Path, config: dict[str, Any]) -> Backbone:
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


def load_embedder(name_or_dir: str | os.PathLike | None = None, device: str = "auto",
                  precision: str = "auto", choice: str | None = None) -> SceneEmbedder:
    """A scenesem checkpoint, a save_pretrained directory, a hub id, `embedded` (the ImageNet
    EfficientNet-Lite0 that installs with the package) or `auto`/None -> a ready embedder.

    `auto` takes VideoMAE-base when it is cached or the hub answers within ~2 s, else the
    embedded model (`model.choose`); the reason is logged and kept in `embedder.choice`
    (`choice`: the reason a caller that already decided gives).
    """
    from scenesem_otio.model.choose import EMBEDDED, choose_model

    name, reason = choose_model(name_or_dir)
    reason = choice or reason
    log.info("model: %s", reason)
    if name == EMBEDDED:
        from scenesem_otio.model.efficientnet import ImageBackbone

        embedder = SceneEmbedder(ImageBackbone.pretrained(), None, ModelMeta(backbone=EMBEDDED))
    elif is_checkpoint(name):
        embedder = load_checkpoint(name)
    else:
        from scenesem_otio.model.backbone import VideoBackbone

        backbone = VideoBackbone.from_pretrained(name)
        embedder = SceneEmbedder(backbone, None, ModelMeta(backbone=name))
    embedder.choice = reason
    dev = resolve_device(device)
    embedder.to(dev)
    embedder.autocast_dtype = resolve_dtype(precision, dev)
    embedder.eval()
    return embedder
