"""Training end to end on synthetic films with the tiny VideoMAE and the real MiniLM."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import load_file
from safetensors.torch import load_file as load_torch

from scenesem_otio.adapters.formats import read_timeline, write_timeline
from scenesem_otio.cli import main
from scenesem_otio.core.config import (
    CutOptions,
    RuntimeOptions,
    SamplingOptions,
    SegmentOptions,
    ShotOptions,
)
from scenesem_otio.pipeline import cut
from scenesem_otio.train.clips import build_clip_table
from scenesem_otio.train.sources import load_sources

CLIPS_16x64 = SamplingOptions(num_frames=16, image_size=64)


def cut_with(video: Path, model: Path) -> object:
    return cut(video, CutOptions(runtime=RuntimeOptions(model=str(model)), progress=False))


def train(args: list[str]) -> str:
    result = CliRunner().invoke(main, ["train", "--no-progress", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


# The second stage as the tests need it: a two-member ensemble (the stored-ensemble path) and
# no cross-fitting, which only test_cross_fitted_boundary_stage_... checks (two more runs).
LIGHT_BOUNDARY = ["--boundary-members", "2", "--boundary-folds", "0"]


@pytest.fixture(scope="module")
def trained(synth_dir: Path, tiny_videomae_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "ckpt"
    train(["--data", str(synth_dir / "manifest.yaml"), "--model", str(tiny_videomae_dir),
           "--out", str(out), "--steps", "20", "--batch-scenes", "4", "--save-every", "10",
           *LIGHT_BOUNDARY])
    return out


def test_only_last_k_layers_and_head_change(trained: Path, tiny_videomae_dir: Path) -> None:
    from transformers import VideoMAEModel

    base = {k: v.numpy() for k, v in
            VideoMAEModel.from_pretrained(tiny_videomae_dir).state_dict().items()}
    new = load_file(str(trained / "model.safetensors"))
    changed, same = [], []
    for name, value in base.items():
        key = f"backbone.encoder.{name}"
        assert key in new, key
        (same if np.array_equal(new[key], value) else changed).append(name)
    frozen = [n for n in base if n.startswith("embeddings") or ".layer.0." in n
              or ".layer.1." in n]
    assert set(frozen) <= set(same)  # byte-identical
    assert any(".layer.3." in n for n in changed) and any(".layer.2." in n for n in changed)
    assert any(k.startswith("head.") for k in new)
    meta = json.loads((trained / "scenesem.json").read_text())
    assert meta["unfreeze"] == 2 and meta["label_mode"] == "scene"
    assert meta["calibrated_on"] == "val" and meta["threshold"] is not None
    assert -1 <= meta["text_a"] < meta["text_b"] <= 1
    assert os.path.isdir(meta["text_model"])  # the offline MiniLM's folder, by path
    assert meta["training"]["steps"] == 20 and meta["training"]["label_mode"] == "scene"


def test_metrics_and_loss_goes_down(trained: Path) -> None:
    rows = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 21))
    for key in ("loss", "l_pos", "l_neg", "l_seg", "l_sem", "lr_head", "clips_per_s"):
        assert all(np.isfinite(r[key]) for r in rows), key
    assert np.mean([r["loss"] for r in rows[-10:]]) < np.mean([r["loss"] for r in rows[:10]])
    lrs = [r["lr_head"] for r in rows]
    assert max(lrs) <= 1e-3 + 1e-12 and lrs[-1] < lrs[len(lrs) // 2]  # cosine decay


def test_cut_uses_trained_head_and_threshold(trained: Path, synth_dir: Path) -> None:
    meta = json.loads((trained / "scenesem.json").read_text())
    result = cut_with(synth_dir / "film_002.mp4", trained)
    assert result.threshold == pytest.approx(meta["threshold"])
    assert result.segment.min_scene_s == pytest.approx(meta["min_scene_s"])
    assert len(result.scenes[0].embedding) == 256  # the head's output, not backbone features
    assert result.timeline.metadata["scenesem"]["threshold_source"] == "checkpoint"


@pytest.mark.slow
def test_resume_is_exact(trained: Path, synth_dir: Path, tiny_videomae_dir: Path,
                         tmp_path: Path) -> None:
    """Stop at 10, resume to 20: the same weights as `trained`, the same run uninterrupted.
    The second stage comes after the last step and does not touch these weights: left out."""
    common = ["--data", str(synth_dir / "manifest.yaml"), "--model", str(tiny_videomae_dir),
              "--no-boundary-model", "--steps", "20", "--batch-scenes", "4",
              "--save-every", "10"]
    train([*common, "--out", str(tmp_path / "a"), "--stop-after", "10"])
    state = json.loads((tmp_path / "a" / "trainer_state.json").read_text())
    assert state["step"] == 10 and not state["final"]
    text = train([*common, "--out", str(tmp_path / "a"), "--resume"])
    assert "20/20" in text
    a = load_torch(str(tmp_path / "a" / "model.safetensors"))
    b = load_torch(str(trained / "model.safetensors"))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6
    rows = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == list(range(1, 21))
    # Resuming with another schedule length is refused in one line.
    result = CliRunner().invoke(main, ["train", "--no-progress", *common[:-4], "--steps", "30",
                                       "--out", str(tmp_path / "a"), "--resume"])
    assert result.exit_code == 1 and "same --steps" in result.output


@pytest.mark.slow
def test_feature_cache_reuses_frozen_outputs(synth_dir: Path, tiny_videomae_dir: Path,
                                             tmp_path: Path) -> None:
    """Each clip's frozen prefix is computed once, then read back, also by the next run."""
    from scenesem_otio.train.config import TrainConfig
    from scenesem_otio.train.trainer import train as run_train

    def run(out: str) -> object:
        return run_train(TrainConfig(
            data=[str(synth_dir / "manifest.yaml")], base_model=str(tiny_videomae_dir),
            out_dir=str(tmp_path / out), epochs=2, batch_scenes=4, progress=False,
            cache_features=str(tmp_path / "cache"), boundary_model=False))

    first = run("c")
    files = list((tmp_path / "cache").rglob("*.f16"))
    assert len(files) == 1 and files[0].stat().st_size > 0
    n_train_clips = first.cache_misses
    assert n_train_clips > 0 and first.cache_hits > 0  # epoch 2 reads the cache
    second = run("d")
    assert second.cache_misses == 0 and second.cache_hits == first.cache_hits + n_train_clips
    a = load_torch(str(tmp_path / "c" / "model.safetensors"))
    b = load_torch(str(tmp_path / "d" / "model.safetensors"))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6  # both read the fp16 cache


@pytest.mark.slow
def test_two_processes_gloo(synth_dir: Path, tiny_videomae_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", "29517", "-m", "scenesem_otio", "train", "--no-progress",
           "--data", str(synth_dir / "manifest.yaml"), "--model", str(tiny_videomae_dir),
           "--out", str(out), "--steps", "4", "--batch-scenes", "2", "--boundary-members", "1"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    # Cross-fitting stays on (the default): every rank trains the fold runs, the main one
    # embeds; one process waiting on the other would hang here.
    meta = json.loads((out / "scenesem.json").read_text())
    assert meta["boundary_model"]["cross_fitted_films"] == 2
    result = cut_with(synth_dir / "film_002.mp4", out)  # the DDP checkpoint decides itself
    assert result.threshold == pytest.approx(meta["threshold"])
    assert result.timeline.metadata["scenesem"]["boundary_scores_from"] == "boundary model"
    assert result.timeline.metadata["scenesem"]["threshold_source"] == "checkpoint"


def test_finevideo_tar_parquet_and_nle_projects_load(synth_dir: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    truth = read_timeline(synth_dir / "film_000.truth.otio")
    from scenesem_otio.adapters.timeline import scenes_from_timeline

    scenes = scenes_from_timeline(truth)
    fps = 25.0

    def ts(frame: int) -> str:
        s = frame / fps
        return f"{int(s // 3600):02d}:{int(s % 3600 // 60):02d}:{s % 60:06.3f}"

    record = {"content_metadata": {
        "fps": fps, "description": "synthetic", "characterList": [],
        "scenes": [{"sceneId": i + 1, "title": sc.title, "description": sc.description,
                    "timestamps": {"start_timestamp": ts(sc.start), "end_timestamp": ts(sc.end)},
                    "props": ["a", "b"], "cast": ["Anna"],
                    "mood": {"description": "calm", "keyMoments": []},
                    "activities": [{"description": "talking", "timestamp": ts(sc.start)}],
                    "narrativeProgression": [], "thematicElements": "trust",
                    "contextualRelevance": "opening", "dynamismScore": 0.3}
                   for i, sc in enumerate(scenes)]}}
    mp4 = (synth_dir / "film_000.mp4").read_bytes()
    shard = tmp_path / "shard-000.tar"
    with tarfile.open(shard, "w") as tar:
        for name, data in (("sample0.mp4", mp4), ("sample0.json", json.dumps(record).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    parquet = tmp_path / "part-0.parquet"
    pq.write_table(pa.table({"mp4": [mp4], "json": [record]}), parquet)

    edl, xml = tmp_path / "p.edl", tmp_path / "p.xml"
    write_timeline(truth, edl)
    write_timeline(truth, xml)
    video = synth_dir / "film_000.mp4"
    manifest = tmp_path / "projects.json"
    manifest.write_text(json.dumps([{"video": str(video), "timeline": str(edl)},
                                    {"video": str(video), "timeline": str(xml)}]))

    items = load_sources([str(shard), str(parquet), str(manifest)])
    assert len(items) == 4
    for item in items:
        assert [(s.start, s.end) for s in item.scenes] == [(s.start, s.end) for s in scenes]
    fine = items[0].scenes[0].text
    assert scenes[0].description.split(".")[0] in fine and "Props: a, b." in fine
    assert "mood: calm" in fine
    table = build_clip_table(items, CLIPS_16x64, per_scene=2)
    assert table.pixels.shape[1:] == (16, 64, 64, 3)
    assert len(table.pixels) == 2 * 4 * len(scenes)
    frame_mode = load_sources([str(shard)], label_mode="frame")
    t2 = build_clip_table(frame_mode, CLIPS_16x64, 2, label_mode="frame")
    assert len(set(t2.label.tolist())) == len(scenes)
    # Every boundary stage reads its truth through truth_starts_s: frame labels win in that mode.
    from scenesem_otio.train.boundary import truth_starts_s

    item, fps = frame_mode[0], float(frame_mode[0].info.fps)
    starts = [s.start / fps for s in scenes]
    assert truth_starts_s(item, "frame") == truth_starts_s(item, "scene") == starts
    item.frame_labels = item.frame_labels.copy()
    item.frame_labels[10:] += 100  # an extra split at frame 10
    assert truth_starts_s(item, "frame") == sorted([*starts, 10 / fps])
    assert truth_starts_s(item, "scene") == starts


def test_demo_rows_decode_one_embedding_pass_as_cut_would(trained: Path, synth_dir: Path
                                                           ) -> None:
    """The demo embeds each film once per model and decodes it with every rule: each row must
    equal what `cut` itself gives with that rule."""
    import yaml

    from scenesem_otio.core.config import SegmentOptions
    from scenesem_otio.demo.run import as_segmentation, evaluate, evaluate_rules, held_out_films
    from scenesem_otio.model.checkpoint import load_embedder

    entries = yaml.safe_load((synth_dir / "manifest.yaml").read_text())
    held_out = held_out_films(synth_dir, entries[-2:])
    model = load_embedder(str(trained), device="cpu")
    rules = {"boundary": SegmentOptions(), "cosine": SegmentOptions(boundary_model=False),
             "exactly 4": SegmentOptions(n_scenes=4)}
    rows = evaluate_rules(held_out, model, rules)
    assert set(rows) == set(rules)
    for name, segment in rules.items():
        options = CutOptions(segment=segment, progress=False)
        alone = evaluate(held_out, lambda video, o=options: as_segmentation(
            cut(video, o, embedder=model)))
        assert rows[name] == pytest.approx(alone, nan_ok=True), name
    assert rows["boundary"] != rows["cosine"]


def test_checkpoint_carries_a_boundary_model_that_cut_uses(trained: Path, synth_dir: Path
                                                          ) -> None:
    """The second stage: a boundary model stored beside the weights, its own calibration in
    the checkpoint, the cosine rule's kept for `--cosine-rule`; `--scenes N` still exact."""
    from dataclasses import replace

    from scenesem_otio.core.config import SegmentOptions

    assert (trained / "boundary.json").is_file() and (trained / "boundary.safetensors").is_file()
    stored = json.loads((trained / "boundary.json").read_text())["config"]
    assert stored["colour_dim"] == 64 and stored["emb_dim"] == 256 + 64  # reads shot colours
    assert stored["members"] == 2  # an ensemble, stored and loaded as one model
    meta = json.loads((trained / "scenesem.json").read_text())
    cosine = meta["cosine_calibration"]
    assert cosine["split"] == "val" and cosine["threshold"] is not None
    assert meta["shots"] == {"detector": "adaptive", "threshold": None, "min_shot": None,
                             "min_content": ShotOptions().min_content}  # what cut detects
    options = CutOptions(runtime=RuntimeOptions(model=str(trained)), progress=False)
    learned = cut(synth_dir / "film_002.mp4", options)
    assert learned.timeline.metadata["scenesem"]["boundary_scores_from"] == "boundary model"
    assert learned.threshold == pytest.approx(meta["threshold"])
    assert all(0.0 <= x <= 1.0 for x in learned.scores)
    rule = cut(synth_dir / "film_002.mp4",
               replace(options, segment=SegmentOptions(boundary_model=False)))
    assert rule.timeline.metadata["scenesem"]["boundary_scores_from"].startswith("cosine")
    assert rule.threshold == pytest.approx(cosine["threshold"])
    assert rule.segment.min_scene_s == pytest.approx(cosine["min_scene_s"])
    exact = cut(synth_dir / "film_002.mp4", replace(options, segment=SegmentOptions(n_scenes=3)))
    assert len(exact.scenes) == 3


def test_joint_boundary_training_learns_with_the_embeddings_and_resumes_exactly(
        synth_dir: Path, tiny_videomae_dir: Path, tmp_path: Path) -> None:
    """--boundary-training joint: the BCE rides in every step (logged, finite), the boundary
    model in the checkpoint is the jointly learned one, cut uses it, and a run stopped at 2 and
    resumed equals the run left alone, boundary weights included."""
    common = ["--data", str(synth_dir / "manifest.yaml"), "--model", str(tiny_videomae_dir),
              "--steps", "4", "--batch-scenes", "4", "--save-every", "2",
              "--boundary-training", "joint"]
    train([*common, "--out", str(tmp_path / "whole")])
    train([*common, "--out", str(tmp_path / "split"), "--stop-after", "2"])
    train([*common, "--out", str(tmp_path / "split"), "--resume"])
    rows = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text()
            .splitlines()]
    assert len(rows) == 4 and all(np.isfinite(r["boundary_bce"]) for r in rows)
    assert all(r["loss"] > r["l_seg"] for r in rows)  # the BCE is part of L
    meta = json.loads((tmp_path / "whole" / "scenesem.json").read_text())
    assert meta["boundary_model"]["training"] == "joint"
    for name in ("model.safetensors", "boundary.safetensors"):
        a = load_torch(str(tmp_path / "whole" / name))
        b = load_torch(str(tmp_path / "split" / name))
        assert a.keys() == b.keys()
        assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6, name
    result = cut_with(synth_dir / "film_002.mp4", tmp_path / "whole")
    assert result.timeline.metadata["scenesem"]["boundary_scores_from"] == "boundary model"
    assert result.threshold == pytest.approx(meta["threshold"])


def test_joint_boundary_training_refuses_a_run_without_a_boundary_model(
        synth_dir: Path, tiny_videomae_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [
        "train", "--no-progress", "--data", str(synth_dir / "manifest.yaml"), "--model",
        str(tiny_videomae_dir), "--out", str(tmp_path / "x"), "--steps", "2",
        "--boundary-training", "joint", "--no-boundary-model"])
    assert result.exit_code == 1 and "drop --no-boundary-model" in result.output
    assert "Traceback" not in result.output


def test_cross_fitted_boundary_stage_learns_on_films_each_fold_left_out(
        synth_dir: Path, tiny_videomae_dir: Path, tmp_path: Path) -> None:
    """--boundary-folds 2: two more runs, each without half the training films, embed that
    half; the second stage learns on those embeddings as well as on the in-sample ones."""
    items = load_sources([str(synth_dir / "manifest.yaml")])
    n_train = sum(it.split == "train" for it in items)
    out = tmp_path / "folds"
    train(["--data", str(synth_dir / "manifest.yaml"), "--model", str(tiny_videomae_dir),
           "--out", str(out), "--steps", "4", "--batch-scenes", "4", "--boundary-folds", "2",
           "--boundary-members", "1"])
    meta = json.loads((out / "scenesem.json").read_text())
    assert meta["boundary_model"]["cross_fitted_films"] == n_train
    assert meta["boundary_model"]["films"] == 2 * n_train
    result = cut_with(synth_dir / "film_002.mp4", out)
    assert result.timeline.metadata["scenesem"]["boundary_scores_from"] == "boundary model"


@pytest.mark.parametrize("args, message", [
    (["--boundary-folds", "1"], "0 (off) or at least 2"),
    (["--boundary-folds", "2", "--boundary-training", "joint"], "needs --boundary-training"),
])
def test_bad_boundary_training_options_are_refused_in_one_line(
        synth_dir: Path, tiny_videomae_dir: Path, tmp_path: Path, args: list[str],
        message: str) -> None:
    result = CliRunner().invoke(main, [
        "train", "--no-progress", "--data", str(synth_dir / "manifest.yaml"), "--model",
        str(tiny_videomae_dir), "--out", str(tmp_path / "x"), "--steps", "2", *args])
    assert result.exit_code == 1 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_cross_fitting_is_on_by_default_only_where_it_applies() -> None:
    from scenesem_otio.train.config import DEFAULT_FOLDS, TrainConfig, folds

    base = TrainConfig(data=["x.yaml"], out_dir="o")
    assert folds(base) == DEFAULT_FOLDS == 2
    assert folds(TrainConfig(data=["x.yaml"], out_dir="o", boundary_training="joint")) == 0
    assert folds(TrainConfig(data=["x.yaml"], out_dir="o", boundary_model=False)) == 0
    assert folds(TrainConfig(data=["x.yaml"], out_dir="o", boundary_folds=4)) == 4


def test_one_project_trains_with_defaults_and_cuts(synth_dir: Path, tiny_videomae_dir: Path,
                                                   tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Issue 25: a user's first fine-tune is one edited project (one film, no split). The
    default --boundary-folds 2 cannot hold out the only film, so cross-fitting is skipped and
    calibration is in-sample, each said in one log line; the checkpoint's calibration cuts."""
    import logging

    import yaml

    entry = yaml.safe_load((synth_dir / "manifest.yaml").read_text())[0]
    entry.pop("split", None)
    manifest = tmp_path / "project.yaml"
    manifest.write_text(yaml.safe_dump([{k: str(synth_dir / v) for k, v in entry.items()}]))
    out = tmp_path / "ckpt"
    with caplog.at_level(logging.WARNING, logger="scenesem"):
        train(["--data", str(manifest), "--model", str(tiny_videomae_dir), "--out", str(out),
               "--steps", "4", "--batch-scenes", "4"])
    said = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("cross-fitting skipped: 1 training film") for m in said) == 1
    assert sum(m.startswith("calibration: no validation films") for m in said) == 1
    meta = json.loads((out / "scenesem.json").read_text())
    assert meta["calibrated_on"] == "train" and meta["threshold"] is not None
    assert meta["boundary_model"]["cross_fitted_films"] == 0
    result = cut_with(synth_dir / "film_002.mp4", out)
    assert result.threshold_source == "checkpoint" and result.scene_count is None
    meta = result.timeline.metadata["scenesem"]
    assert meta["scene_count_from"] == "θ (checkpoint)" and meta.get("scene_count") is None
    assert len(result.scenes) >= 1
    # Asked for, --scenes auto still chooses N from the film; the boundary model places the cuts.
    auto = cut(synth_dir / "film_002.mp4",
               CutOptions(runtime=RuntimeOptions(model=str(out)),
                          segment=SegmentOptions(n_scenes="auto"), progress=False))
    assert auto.scene_count is not None and len(auto.scenes) == auto.scene_count.n
    assert auto.timeline.metadata["scenesem"]["scene_count_from"] == "the film (--scenes auto)"
