"""`scenesem cut` end to end with a tiny VideoMAE: real film, real decode, real timeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from click.testing import CliRunner

from scenesem_otio.adapters.formats import read_timeline
from scenesem_otio.adapters.timeline import cuts_from_timeline, scenes_from_timeline
from scenesem_otio.cli import main
from scenesem_otio.core.config import CutOptions, RuntimeOptions, SegmentOptions
from scenesem_otio.media.probe import probe
from scenesem_otio.media.shots import detect_shots
from scenesem_otio.model.backbone import VideoBackbone
from scenesem_otio.model.checkpoint import save_checkpoint
from scenesem_otio.model.embedder import SceneEmbedder
from scenesem_otio.model.head import EmbeddingHead
from scenesem_otio.model.meta import Calibration, ModelMeta
from scenesem_otio.pipeline import cut


def run_ok(args: list[str]) -> str:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def check_timeline(path: Path, video: Path, shot_cuts: list[int]) -> list:
    """What every `cut` output must satisfy (issue 3, acceptance 1)."""
    info = probe(video)
    timeline = otio.adapters.read_from_file(str(path))
    track = timeline.tracks[0]
    assert track.name == "Scenes"
    clips = list(track.find_clips())
    rate = info.fps
    starts = [round(c.source_range.start_time.value_rescaled_to(float(rate))) for c in clips]
    ends = [s + round(c.source_range.duration.value_rescaled_to(float(rate)))
            for s, c in zip(starts, clips)]
    assert starts[0] == info.start_frame and ends[-1] == info.start_frame + info.n_frames
    assert starts[1:] == ends[:-1]  # contiguous
    shot_starts = {0, *shot_cuts}
    assert {s - info.start_frame for s in starts} <= shot_starts  # scenes start on shots
    for k, item in enumerate(clips):
        meta = item.metadata["scenesem"]
        assert item.name == f"Scene {k + 1:03d}"
        assert item.media_reference.target_url == video.absolute().as_uri()
        marker = item.markers[0]
        assert marker.name.startswith(f"S{k + 1:03d}")
        assert marker.color in ("RED", "YELLOW", "GREEN")
        assert "shot" in marker.comment
        if k:
            d = meta["distance_prev"]
            assert 0 <= d <= 1 and f"Δ{d:.2f}" in marker.name
            assert "distance to previous scene" in marker.comment
            expected = "RED" if d >= 0.5 else "YELLOW" if d >= 0.25 else "GREEN"
            assert marker.color == expected
            assert 0 <= meta["boundary_score"] <= 1
        assert "nearest" in meta
    top = timeline.metadata["scenesem"]
    assert top["tool"] == "scenesem cut" and 0 <= top["threshold"] <= 1
    assert len(top["boundary_scores"]) == len(shot_cuts)
    return clips


def test_cut_scene_film(scene_film: tuple[Path, list[int], list[int]],
                        tiny_videomae_dir: Path, tmp_path: Path) -> None:
    video, shot_cuts, _ = scene_film
    out = tmp_path / "film.otio"
    text = run_ok(["cut", str(video), "-o", str(out), "--model", str(tiny_videomae_dir),
                   "--min-scene", "0", "--no-progress"])
    assert detect_shots(video) == shot_cuts  # the film's cuts are exactly detectable
    clips = check_timeline(out, video, shot_cuts)
    assert 1 <= len(clips) <= len(shot_cuts) + 1
    # The summary table (`key` padded to 13) tells what was written, not just its labels.
    summary = {line[:13].rstrip(): line[14:] for line in text.splitlines() if len(line) > 14}
    assert (summary["scenes"], summary["shots"]) == (str(len(clips)), str(len(shot_cuts) + 1))
    assert summary["media"] == "264 frames, 10.6 s" and summary["written"] == str(out)
    assert summary["wall time"].endswith("x real time)")


def test_cut_exact_scene_count_and_shot_level(scene_film: tuple[Path, list[int], list[int]],
                                              tiny_videomae_dir: Path, tmp_path: Path) -> None:
    video, shot_cuts, _ = scene_film
    out = tmp_path / "three.otio"
    run_ok(["cut", str(video), "-o", str(out), "--model", str(tiny_videomae_dir),
            "--scenes", "3", "--no-progress"])
    assert len(check_timeline(out, video, shot_cuts)) == 3
    shots_out = tmp_path / "shots.otio"
    run_ok(["cut", str(video), "-o", str(shots_out), "--model", str(tiny_videomae_dir),
            "--scenes", "3", "--level", "shots", "--no-progress"])
    timeline = otio.adapters.read_from_file(str(shots_out))
    clips = list(timeline.find_clips())
    assert len(clips) == len(shot_cuts) + 1
    assert sum(len(c.markers) for c in clips) == 3  # markers at scene starts only
    assert len(scenes_from_timeline(timeline)) == 3  # scene membership survives


def test_cut_test_mp4_edl_and_shots_from_edit(test_mp4: Path, test_mp4_cuts: list[int],
                                              tiny_videomae_dir: Path, tmp_path: Path) -> None:
    cuts = test_mp4_cuts
    out = tmp_path / "test.otio"
    run_ok(["cut", str(test_mp4), "-o", str(out), "--model", str(tiny_videomae_dir),
            "--no-progress", "--embeddings"])
    clips = check_timeline(out, test_mp4, cuts)
    assert len(clips) > 1
    assert len(clips[0].metadata["scenesem"]["embedding"]) == 64
    # A shot list from an edit: a baseline EDL with a higher content floor, so its shots are
    # not the ones cut detects itself (with its own floor it would be the same 124 cuts, and
    # an ignored --shots would pass); --level shots writes every shot of the edit back.
    info = probe(test_mp4)
    edl = tmp_path / "shots.edl"
    run_ok(["baseline", str(test_mp4), "-o", str(edl), "--min-content", "40", "--no-progress"])
    edit_cuts = cuts_from_timeline(read_timeline(edl, rate=info.fps), info)
    assert 0 < len(edit_cuts) < len(cuts) and set(edit_cuts) < set(cuts)
    from_edit = tmp_path / "from_edit.edl"
    run_ok(["cut", str(test_mp4), "-o", str(from_edit), "--model", str(tiny_videomae_dir),
            "--shots", str(edl), "--level", "shots", "--no-progress"])
    tl = read_timeline(from_edit, rate=info.fps)
    assert cuts_from_timeline(tl, info) == edit_cuts
    scenes = scenes_from_timeline(tl, info)
    assert scenes[0].start == 0 and scenes[-1].end == 5301
    # distance: table + heatmap from the embeddings.
    png = tmp_path / "heat.png"
    text = run_ok(["distance", str(out), "-o", str(png)])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert text.splitlines()[1].startswith("S001")
    assert len(text.splitlines()) == len(clips) + 2


def test_cut_with_checkpoint_uses_its_threshold(scene_film: tuple[Path, list[int], list[int]],
                                                tiny_videomae_dir: Path, tmp_path: Path) -> None:
    video, shot_cuts, _ = scene_film
    embedder = SceneEmbedder(VideoBackbone.from_pretrained(tiny_videomae_dir),
                             EmbeddingHead(64, 32, 16))
    save_checkpoint(embedder, tmp_path / "ckpt",
                    ModelMeta(calibration=Calibration(threshold=0.0, min_scene_s=0.0)))
    out = tmp_path / "ckpt.otio"
    options = CutOptions(runtime=RuntimeOptions(model=str(tmp_path / "ckpt"), device="cpu"),
                         progress=False)
    result = cut(video, options, output=out)
    assert result.threshold == 0.0
    assert result.timeline.metadata["scenesem"]["threshold_source"] == "checkpoint"
    check_timeline(out, video, shot_cuts)
    # θ = 0 and r = 1: every local maximum of the scores is a cut.
    s = result.scores
    local_max = [k for k in range(len(s)) if s[k] >= s[max(0, k - 1):k + 2].max()]
    assert [sc.first_shot - 1 for sc in result.scenes[1:]] == local_max
    assert len(result.scenes[0].embedding) == 16


def test_cut_without_output_writes_nothing(scene_film: tuple[Path, list[int], list[int]],
                                           tiny_videomae_dir: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    video, _, _ = scene_film
    monkeypatch.chdir(tmp_path)
    result = cut(video, CutOptions(segment=SegmentOptions(n_scenes=2),
                                   runtime=RuntimeOptions(model=str(tiny_videomae_dir)),
                                   progress=False))
    assert len(result.scenes) == 2 and list(tmp_path.iterdir()) == []
    emb = np.asarray([s.embedding for s in result.scenes])
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-6)
    assert result.output is None and result.segment.n_scenes == 2


def test_distance_needs_embeddings(scene_film: tuple[Path, list[int], list[int]],
                                   tiny_videomae_dir: Path, tmp_path: Path) -> None:
    video, _, _ = scene_film
    out = tmp_path / "plain.otio"
    run_ok(["cut", str(video), "-o", str(out), "--model", str(tiny_videomae_dir),
            "--no-progress"])
    result = CliRunner().invoke(main, ["distance", str(out)])
    assert result.exit_code == 1
    assert "--embeddings" in result.output and "Traceback" not in result.output
