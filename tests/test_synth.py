"""Synthetic benchmark films: real H.264, a truth timeline with text, the hard cases built in."""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml
from click.testing import CliRunner

from scenesem_otio.adapters.formats import read_timeline
from scenesem_otio.adapters.timeline import scenes_from_timeline
from scenesem_otio.cli import main
from scenesem_otio.media.probe import probe
from scenesem_otio.media.shots import detect_shots
from scenesem_otio.train.sources import load_sources


def test_synth_cli_writes_films_truth_and_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["synth", str(tmp_path), "--films", "2", "--seed", "3",
                                       "--width", "128", "--height", "72"])
    assert result.exit_code == 0, result.output
    entries = yaml.safe_load((tmp_path / "manifest.yaml").read_text())
    assert [e["video"] for e in entries] == ["film_000.mp4", "film_001.mp4"]
    for e in entries:
        info = probe(tmp_path / e["video"])
        assert info.codec == "h264" and (info.width, info.height) == (128, 72)
        scenes = scenes_from_timeline(read_timeline(tmp_path / e["timeline"]), info)
        assert scenes[0].start == 0 and scenes[-1].end == info.n_frames
        assert all(a.end == b.start for a, b in itertools.pairwise(scenes))
        kinds = [s.metadata["kind"] for s in scenes]
        assert {"intercut", "revisit", "similar", "lighting"} <= set(kinds)
        assert all(s.description and s.title for s in scenes)
        # Every scene start is a real, detectable cut.
        cuts = set(detect_shots(tmp_path / e["video"]))
        assert {s.start for s in scenes[1:]} <= cuts
        # Intercut: the text says one scene; the images alternate between two places.
        inter = scenes[kinds.index("intercut")]
        assert "phones" in inter.description and len(inter.metadata["places"]) == 2
    items = load_sources([str(tmp_path / "manifest.yaml")])
    assert all("Props:" in s.text for it in items for s in it.scenes)


def test_synth_rejects_bad_size(tmp_path: Path) -> None:
    """Too small, or odd (H.264's 4:2:0 needs even sides): refused up front, before any film."""
    for width in ("63", "65"):
        result = CliRunner().invoke(main, ["synth", str(tmp_path / "out"), "--width", width])
        assert result.exit_code == 1 and result.output == (
            f"error: {width}x180: width and height must be even and ≥ 64\n"), result.output
        assert not (tmp_path / "out").exists()


def test_synth_rejects_bad_rate(tmp_path: Path) -> None:
    for rate in ("0", "-25", "abc"):
        result = CliRunner().invoke(main, ["synth", str(tmp_path / "out"), "--fps", rate])
        assert result.exit_code == 1 and result.output.startswith("error: --fps"), result.output
        assert not (tmp_path / "out").exists()


def test_benchmarks_reuse_a_demo_run_only_when_its_settings_match(tmp_path: Path) -> None:
    import json
    from dataclasses import asdict, replace

    from scenesem_otio.core.config import PYSCENEDETECT_SHOTS
    from scenesem_otio.demo.run import run_config, trained_with
    from scenesem_otio.train.calibration import shots_record

    cfg = run_config(tmp_path / "train.yaml", tmp_path / "a", "embedded", 400, 0, False)
    ckpt = tmp_path / "demo-ckpt"
    assert not trained_with(ckpt, cfg)  # nothing there
    ckpt.mkdir()
    record = {**asdict(replace(cfg, out_dir=str(ckpt))), "progress": True}
    meta = {"training": record, "shots": shots_record()}
    (ckpt / "scenesem.json").write_text(json.dumps(meta))
    assert trained_with(ckpt, cfg)  # paths and progress aside, the same run
    assert not trained_with(ckpt, replace(cfg, boundary_folds=0))
    assert not trained_with(ckpt, replace(cfg, text_window=(25.0, 75.0)))
    # Fitted on other shots (PySceneDetect's defaults, as before min_content existed).
    (ckpt / "scenesem.json").write_text(json.dumps(
        {**meta, "shots": shots_record(PYSCENEDETECT_SHOTS)}))
    assert not trained_with(ckpt, cfg)
    del record["boundary_training"]  # a run from before the option existed
    (ckpt / "scenesem.json").write_text(json.dumps(meta))
    assert not trained_with(ckpt, cfg)
