"""Model stage: backbone loading, pooling, head, unfreeze_last, safetensors checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import VideoMAEModel

from scenesem_otio.core.errors import CheckpointError
from scenesem_otio.model.backbone import VideoBackbone
from scenesem_otio.model.checkpoint import load_checkpoint, load_embedder, save_checkpoint
from scenesem_otio.model.embedder import SceneEmbedder
from scenesem_otio.model.head import EmbeddingHead
from scenesem_otio.model.meta import Calibration, ModelMeta


def clips(n: int = 3, size: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 16, size, size, 3), dtype=np.uint8)


def test_pooled_vector_is_token_mean_then_layernorm(tiny_videomae_dir: Path) -> None:
    backbone = VideoBackbone.from_pretrained(tiny_videomae_dir).eval()
    reference = VideoMAEModel.from_pretrained(tiny_videomae_dir).eval()
    x = backbone.preprocess(clips(2))
    with torch.no_grad():
        tokens = reference(pixel_values=x).last_hidden_state
        expected = backbone.fc_norm(tokens.mean(dim=1))
        got = backbone(x)
    assert got.shape == (2, 64)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert backbone.encoder.config._attn_implementation == "sdpa"


def test_preprocess_uses_imagenet_mean_std(tiny_videomae_dir: Path) -> None:
    backbone = VideoBackbone.from_pretrained(tiny_videomae_dir)
    grey = np.full((1, 16, 64, 64, 3), 255, np.uint8)
    x = backbone.preprocess(grey)
    assert x.shape == (1, 16, 3, 64, 64)
    expected = (1.0 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(x[0, 0, :, 0, 0], expected)


def test_no_head_means_normalised_pooled_features(tiny_videomae_dir: Path) -> None:
    embedder = load_embedder(str(tiny_videomae_dir), device="cpu", precision="fp32")
    assert embedder.head is None and embedder.meta.head is None
    v = embedder.embed(clips(3), batch_size=2)
    assert v.shape == (3, 64) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    with torch.no_grad():
        pooled = embedder.backbone(embedder.backbone.preprocess(clips(3)))
    np.testing.assert_allclose(v, torch.nn.functional.normalize(pooled, dim=-1).numpy(),
                               atol=1e-5)


def test_head_by_hand() -> None:
    """Linear -> ReLU -> Linear -> L2, on weights set by hand and numbers worked out on paper."""
    head = EmbeddingHead(2, 2, 2)
    assert [type(m).__name__ for m in head.children()] == ["Linear", "Linear"]
    assert head.dims == (2, 2, 2)
    with torch.no_grad():
        head.fc1.weight.copy_(torch.tensor([[1.0, -1.0], [0.0, 2.0]]))
        head.fc1.bias.copy_(torch.tensor([0.0, -1.0]))
        head.fc2.weight.copy_(torch.tensor([[5.0, 1.0], [7.0, 1.0]]))
        head.fc2.bias.copy_(torch.tensor([0.0, 1.0]))
        out = head(torch.tensor([[1.0, 2.0], [0.0, 0.0], [3.0, 1.0]]))
    # x = (1, 2): fc1 -> (1 - 2, 4 - 1) = (-1, 3), ReLU -> (0, 3); fc2 -> (3, 3 + 1) = (3, 4),
    #   L2 -> (0.6, 0.8).  (Without the ReLU: fc2 of (-1, 3) = (-2, -3).)
    # x = (0, 0): fc1 -> (0, -1), ReLU -> (0, 0); fc2 -> the bias (0, 1), already unit length.
    # x = (3, 1): fc1 -> (2, 1), ReLU keeps it; fc2 -> (11, 16), L2 -> (11, 16) / sqrt(377).
    expected = torch.tensor([[0.6, 0.8], [0.0, 1.0], [11 / 377 ** 0.5, 16 / 377 ** 0.5]])
    torch.testing.assert_close(out, expected)


def test_head_output_is_unit_length_at_any_size() -> None:
    head = EmbeddingHead(64, 32, 16)
    out = head(torch.randn(5, 64))
    assert out.shape == (5, 16) and head.dims == (64, 32, 16)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(5))


def test_checkpoint_round_trip_is_bit_exact(tiny_videomae_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(1)
    backbone = VideoBackbone.from_pretrained(tiny_videomae_dir)
    embedder = SceneEmbedder(backbone, EmbeddingHead(64, 32, 16)).eval()
    save_checkpoint(embedder, tmp_path / "ckpt", ModelMeta(
        unfreeze=2, calibration=Calibration(threshold=0.42, min_scene_s=3.5),
        record={"text_a": 0.1, "text_b": 0.7}))
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == ["config.json", "model.safetensors", "scenesem.json"]
    meta = json.loads((tmp_path / "ckpt" / "scenesem.json").read_text())
    assert meta["threshold"] == 0.42 and meta["head"] == [64, 32, 16]
    assert meta["min_scene_s"] == 3.5 and meta["unfreeze"] == 2
    assert meta["sampling"]["num_frames"] == 16 and meta["sampling"]["image_size"] == 64
    assert "torch" in meta["versions"]

    loaded = load_checkpoint(tmp_path / "ckpt")
    x = clips(4)
    a = embedder.embed(x)
    b = loaded.embed(x)
    assert a.shape == (4, 16)
    assert np.abs(a - b).max() == 0.0
    assert loaded.meta.record["text_b"] == 0.7
    assert loaded.meta.calibration == Calibration(threshold=0.42, min_scene_s=3.5)
    # The same through the public loader (what `scenesem cut --model DIR` uses).
    c = load_embedder(tmp_path / "ckpt", device="cpu", precision="fp32")
    assert np.abs(a - c.embed(x)).max() == 0.0


def test_unfreeze_last_two(tiny_videomae_dir: Path) -> None:
    backbone = VideoBackbone.from_pretrained(tiny_videomae_dir)
    embedder = SceneEmbedder(backbone, EmbeddingHead(64, 32, 16))
    backbone.unfreeze_last(2)
    trainable = {n for n, p in embedder.named_parameters() if p.requires_grad}
    layers = {n.split(".")[4] for n in trainable if n.startswith("backbone.encoder.encoder.layer.")}
    assert layers == {"2", "3"}
    assert any(n.startswith("head.") for n in trainable)
    assert any("norm" in n and "layer." not in n for n in trainable)  # the final norm
    frozen_roots = [n for n in trainable if "embeddings" in n or ".layer.0." in n
                    or ".layer.1." in n]
    assert frozen_roots == []
    # And gradients reach exactly those parameters.
    loss = embedder(backbone.preprocess(clips(2))).sum()
    loss.backward()
    with_grad = {n for n, p in embedder.named_parameters() if p.grad is not None}
    assert with_grad == trainable


def test_hub_unreachable_is_one_line_naming_the_ways_forward(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError) as err:
        VideoBackbone.from_pretrained("MCG-NJU/videomae-base-not-cached-here")
    message = str(err.value)
    assert "\n" not in message
    assert "--model DIR" in message and "scenesem baseline" in message


def test_damaged_checkpoint_is_a_clear_error(tiny_videomae_dir: Path, tmp_path: Path) -> None:
    embedder = SceneEmbedder(VideoBackbone.from_pretrained(tiny_videomae_dir), None)
    save_checkpoint(embedder, tmp_path / "ckpt")
    weights = tmp_path / "ckpt" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="ckpt"):
        load_checkpoint(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "scenesem.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"unreadable scenesem\.json"):
        load_checkpoint(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="not a model directory"):
        VideoBackbone.from_pretrained(tmp_path)


def test_bf16_autocast_runs_on_cpu(tiny_videomae_dir: Path) -> None:
    embedder = load_embedder(str(tiny_videomae_dir), device="cpu", precision="bf16")
    assert embedder.autocast_dtype == torch.bfloat16
    fp32 = load_embedder(str(tiny_videomae_dir), device="cpu", precision="fp32")
    x = clips(2)
    a, b = embedder.embed(x), fp32.embed(x)
    assert a.dtype == np.float32
    assert np.abs(a - b).max() < 0.05  # bf16 is close, not equal
