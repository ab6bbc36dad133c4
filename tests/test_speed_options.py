"""Speed options (issue 16): visible-token VideoMAE (`keep`) and the clip budget per shot."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from scenesem_otio.core.config import RuntimeOptions, SamplingOptions
from scenesem_otio.core.errors import CheckpointError
from scenesem_otio.core.scenes import Shot
from scenesem_otio.media.sampling import plan_clips, plan_shot
from scenesem_otio.model.backbone import (
    VideoBackbone,
    apply_speed_options,
    keep_pattern,
)
from scenesem_otio.model.checkpoint import load_checkpoint, load_embedder, save_checkpoint
from scenesem_otio.model.embedder import SceneEmbedder
from scenesem_otio.model.meta import META_FILE


def random_clips(n: int = 2, size: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 16, size, size, 3), np.uint8)


# ---------------------------------------------------------------- visible tokens
def test_keep_one_is_the_full_sequence_bit_for_bit(tiny_videomae_dir: Path) -> None:
    backbone = VideoBackbone.from_pretrained(tiny_videomae_dir).eval()
    x = backbone.preprocess(random_clips())
    with torch.no_grad():
        before = backbone(x)
        backbone.set_keep(0.5)
        half = backbone(x)
        backbone.set_keep(1.0)
        after = backbone(x)
    assert backbone.masked is None and backbone.n_tokens == 8 * 4 * 4
    assert torch.equal(before, after)
    assert not torch.allclose(before, half)


def test_kept_tokens_match_transformers_masked_forward(tiny_videomae_dir: Path) -> None:
    """Our prefix drops tokens exactly as VideoMAEModel.forward(bool_masked_pos=...) does
    (position embeddings added first), and pools over the kept ones."""
    from transformers import VideoMAEModel

    backbone = VideoBackbone.from_pretrained(tiny_videomae_dir).eval()
    reference = VideoMAEModel.from_pretrained(tiny_videomae_dir).eval()
    x = backbone.preprocess(random_clips(3))
    for keep, n in ((0.75, 96), (0.5, 64), (0.25, 32)):
        backbone.set_keep(keep)
        with torch.no_grad():
            tokens = backbone.prefix(x, 0)
            mask = backbone.masked.expand(3, -1)
            ref = reference(pixel_values=x, bool_masked_pos=mask).last_hidden_state
            got = backbone(x)
        assert tokens.shape == (3, n, 64) and backbone.n_tokens == n  # N·F tokens
        torch.testing.assert_close(got, backbone.fc_norm(ref.mean(dim=1)), atol=1e-5,
                                   rtol=1e-5)


@pytest.mark.parametrize("keep", [0.75, 0.5, 0.25, 0.1])
def test_pattern_is_spatially_even_and_deterministic(keep: float) -> None:
    grid = keep_pattern(14, 14, keep)  # videomae-base: 14×14 patches per frame pair
    k = round(keep * 196)
    assert grid.sum() == k
    quadrants = [grid[:7, :7].sum(), grid[:7, 7:].sum(), grid[7:, :7].sum(), grid[7:, 7:].sum()]
    assert max(quadrants) - min(quadrants) <= 1, quadrants
    # No empty 4×4 neighbourhood at keep ≥ 0.25: the kept cells cover the whole frame.
    if keep >= 0.25:
        blocks = grid[:12, :12].reshape(3, 4, 3, 4).sum(axis=(1, 3))
        assert blocks.min() >= 2, blocks
    assert np.array_equal(grid, keep_pattern(14, 14, keep))
    fewer = keep_pattern(14, 14, keep / 2)
    assert not (fewer & ~grid).any()  # nested: a smaller keep is a subset of a larger one


def test_mask_is_a_tube_and_the_same_for_every_backbone(tiny_videomae_dir: Path) -> None:
    a = VideoBackbone.from_pretrained(tiny_videomae_dir)
    b = VideoBackbone.from_pretrained(tiny_videomae_dir)
    a.set_keep(0.5)
    b.set_keep(0.5)
    assert torch.equal(a.masked, b.masked)
    per_pair = a.masked.view(8, 16)  # 8 frame pairs × 4×4 cells
    assert all(torch.equal(per_pair[0], row) for row in per_pair)
    assert np.array_equal(~per_pair[0].numpy().reshape(4, 4), keep_pattern(4, 4, 0.5))


def test_keep_is_close_to_all_tokens_on_a_real_clip(test_mp4: Path,
                                                    tiny_videomae_dir: Path) -> None:
    from scenesem_otio.media.sampling import sample_clips

    frames = [list(range(s, s + 32, 2)) for s in (200, 1500, 3000, 4400)]
    clips = sample_clips(test_mp4, frames, 64)
    embedder = load_embedder(str(tiny_videomae_dir), device="cpu", precision="fp32")
    full = embedder.embed(clips)
    embedder.backbone.set_keep(0.5)
    half = embedder.embed(clips)
    cos = np.sum(full * half, axis=1)
    assert cos.min() > 0.95, cos
    # Closer to its own clip than to the other clips: kept tokens still tell clips apart.
    assert all(cos[i] > max(np.dot(full[j], half[i]) for j in range(4) if j != i)
               for i in range(4))


def test_keep_outside_0_1_is_refused(tiny_videomae_dir: Path) -> None:
    backbone = VideoBackbone.from_pretrained(tiny_videomae_dir)
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(CheckpointError, match="fraction of tokens"):
            backbone.set_keep(bad)


def test_checkpoint_records_its_keep_and_cut_uses_it(tiny_videomae_dir: Path,
                                                     tmp_path: Path) -> None:
    embedder = load_embedder(str(tiny_videomae_dir), device="cpu", precision="fp32")
    assert embedder.meta.keep is None  # not a trained model: cut takes the default
    apply_speed_options(embedder, RuntimeOptions())
    from scenesem_otio.core.config import DEFAULT_KEEP

    assert embedder.backbone.keep == DEFAULT_KEEP
    apply_speed_options(embedder, RuntimeOptions(keep=0.25))
    save_checkpoint(embedder, tmp_path / "ckpt")
    assert json.loads((tmp_path / "ckpt" / META_FILE).read_text())["keep"] == 0.25
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded.meta.keep == 0.25 and loaded.backbone.n_tokens == 32
    apply_speed_options(loaded, RuntimeOptions())  # no --keep: the checkpoint's
    assert loaded.backbone.keep == 0.25
    apply_speed_options(loaded, RuntimeOptions(keep=1.0))  # --keep 1: all tokens
    assert loaded.backbone.masked is None
    # A checkpoint written before `keep` existed saw every token.
    meta = json.loads((tmp_path / "ckpt" / META_FILE).read_text())
    del meta["keep"]
    (tmp_path / "ckpt" / META_FILE).write_text(json.dumps(meta))
    old = load_checkpoint(tmp_path / "ckpt")
    assert old.meta.keep == 1.0 and old.backbone.masked is None
    apply_speed_options(old, RuntimeOptions())
    assert old.backbone.keep == 1.0


def test_image_backbone_keeps_the_same_contract_with_nothing_to_drop(
        caplog: pytest.LogCaptureFixture) -> None:
    """The embedded family answers `keep` like VideoMAE (model.contract.Backbone): a bad
    fraction is refused, a good one is taken and changes nothing (a CNN sees whole keyframes),
    which the run says in one warning, and the model's meta records no keep it did not run
    with."""
    from scenesem_otio.model.efficientnet import ImageBackbone

    embedder = SceneEmbedder(ImageBackbone(num_frames=2, image_size=64)).eval()
    clips = random_clips()[:, :2]
    before = embedder.embed(clips)
    with caplog.at_level("WARNING", logger="scenesem"):
        apply_speed_options(embedder, RuntimeOptions())
        assert not caplog.records  # no --keep: nothing to say
        apply_speed_options(embedder, RuntimeOptions(keep=0.25))
    assert [r.getMessage() for r in caplog.records] == [
        "--keep 0.25: the efficientnet-lite0 backbone sees whole keyframes, it has no tokens "
        "to drop; every frame is used"]
    assert embedder.backbone.keep == 1.0 and embedder.meta.keep is None
    np.testing.assert_array_equal(embedder.embed(clips), before)
    with pytest.raises(CheckpointError, match="fraction of tokens"):
        embedder.backbone.set_keep(1.5)


def test_cli_refuses_a_keep_of_zero(tmp_path: Path) -> None:
    from scenesem_otio.cli import main

    result = CliRunner().invoke(main, ["cut", str(tmp_path / "x.mp4"), "-o",
                                       str(tmp_path / "x.otio"), "--keep", "0"])
    assert result.exit_code == 2 and "--keep" in result.output


# ---------------------------------------------------------------- clip budget per shot
SAMPLING = SamplingOptions(num_frames=16, image_size=64, max_clips_per_shot=None)


def test_clip_budget_caps_long_shots_and_spreads_them() -> None:
    fps = Fraction(25)
    long_shot = Shot(100, 100 + 25 * 30)  # 30 s: 8 clips at one per 4 s
    assert len(plan_shot(long_shot, fps, SAMPLING)) == 8
    for cap in (1, 2, 3):
        capped = plan_shot(long_shot, fps, SamplingOptions(num_frames=16, image_size=64,
                                                           max_clips_per_shot=cap))
        assert len(capped) == cap
        centres = [c[len(c) // 2] for c in capped]
        part = long_shot.n_frames / cap  # each clip centred in its share of the whole shot
        for i, centre in enumerate(centres):
            assert abs(centre - (long_shot.start + (i + 0.5) * part)) <= 25
        assert all(long_shot.start <= f < long_shot.end for c in capped for f in c)
        assert all(len(c) == 16 for c in capped)


def test_clip_budget_leaves_short_shots_alone() -> None:
    fps = Fraction(24000, 1001)
    shots = [Shot(0, 30), Shot(30, 120), Shot(120, 300), Shot(300, 2000)]  # 7.5 s: 2 clips
    full = plan_clips(shots, fps, SAMPLING)
    capped = plan_clips(shots, fps, SamplingOptions(num_frames=16, image_size=64,
                                                    max_clips_per_shot=2))
    per_shot = [sum(p.shot == i for p in capped) for i in range(4)]
    assert per_shot == [1, 1, 2, 2]
    # Shots under the cap keep exactly the clips they had.
    assert [p for p in capped if p.shot < 3] == [p for p in full if p.shot < 3]
    assert [p.shot for p in capped] == sorted(p.shot for p in capped)  # film order


def test_default_cap_and_no_cap_override(tiny_videomae_dir: Path) -> None:
    from scenesem_otio.core.config import DEFAULT_MAX_CLIPS_PER_SHOT

    assert SamplingOptions().max_clips_per_shot == DEFAULT_MAX_CLIPS_PER_SHOT
    embedder = load_embedder(str(tiny_videomae_dir), device="cpu", precision="fp32")
    apply_speed_options(embedder, RuntimeOptions(max_clips_per_shot=0))
    assert embedder.meta.sampling.max_clips_per_shot is None  # 0 on the CLI = no cap
    apply_speed_options(embedder, RuntimeOptions(max_clips_per_shot=3))
    assert embedder.meta.sampling.max_clips_per_shot == 3


def test_shot_embedding_is_the_mean_of_its_capped_clips(tiny_videomae_dir: Path,
                                                        test_mp4: Path) -> None:
    from scenesem_otio.core.vectors import shot_embeddings
    from scenesem_otio.media.sampling import sample_clips

    shots = [Shot(0, 400), Shot(400, 1000)]  # 16 s and 24 s at 25 fps
    plans = plan_clips(shots, Fraction(25), SamplingOptions(num_frames=16, image_size=64,
                                                            max_clips_per_shot=2))
    assert len(plans) == 4
    clips = sample_clips(test_mp4, [p.frames for p in plans], 64)
    embedder = SceneEmbedder(VideoBackbone.from_pretrained(tiny_videomae_dir)).eval()
    v = embedder.embed(clips)
    emb = shot_embeddings(v, [p.shot for p in plans], 2)
    mean = v[:2].mean(axis=0)
    np.testing.assert_allclose(emb[0], mean / np.linalg.norm(mean), atol=1e-6)


# ---------------------------------------------------------------- training
@pytest.mark.slow
def test_training_runs_on_kept_tokens_and_records_them(synth_dir: Path, tiny_videomae_dir: Path,
                                                       tmp_path: Path) -> None:
    """train --keep: the frozen prefix, its cache and the checkpoint all use the kept tokens,
    and a cut with that checkpoint runs them too."""
    from scenesem_otio.train.config import TrainConfig
    from scenesem_otio.train.trainer import train as run_train

    summary = run_train(TrainConfig(
        data=[str(synth_dir / "manifest.yaml")], base_model=str(tiny_videomae_dir),
        out_dir=str(tmp_path / "ckpt"), steps=2, batch_scenes=4, progress=False,
        cache_features=str(tmp_path / "cache"), keep=0.25, boundary_model=False))
    assert summary.steps == 2 and summary.cache_misses > 0
    meta = json.loads((tmp_path / "ckpt" / META_FILE).read_text())
    assert meta["keep"] == 0.25 and meta["training"]["keep"] == 0.25
    from scenesem_otio.train.clips import plan_scene_clips
    from scenesem_otio.train.sources import load_sources

    sampling = SamplingOptions(num_frames=16, image_size=64)
    n_clips = sum(len(plan_scene_clips(scene, item.info, sampling, 2))
                  for item in load_sources([str(synth_dir / "manifest.yaml")], "scene")
                  for scene in item.scenes)
    (cache,) = (tmp_path / "cache").rglob("*.f16")
    assert cache.stat().st_size == n_clips * 32 * 64 * 2  # 32 kept tokens × 64 dims × fp16
    loaded = load_embedder(str(tmp_path / "ckpt"), device="cpu", precision="fp32")
    assert loaded.backbone.n_tokens == 32
