"""What a first-time user meets on the command line: mistakes answered with one line that says
what to do, and a summary that says how the number of scenes was decided.

Real CLI (click's CliRunner), real films from tests/films.py; nothing of ours is mocked.
"""

from __future__ import annotations

import os
from pathlib import Path

import opentimelineio as otio
import pytest
from click.testing import CliRunner, Result

from scenesem_otio.cli import main


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args, catch_exceptions=True)


def one_error_line(result: Result) -> str:
    """The single `error:` line of a failed run with no traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def usage_error(result: Result) -> str:
    """click's usage error: exit 2, the `Error:` line, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return next(line for line in result.output.splitlines() if line.startswith("Error:"))


@pytest.fixture()
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("not a folder\n")
    return path


def test_output_under_a_file_fails_before_any_work(scene_film: tuple[Path, list[int], list[int]],
                                                   a_file: Path) -> None:
    """`-o notes.txt/cut.otio`: the missing folder cannot be made under a file. Said at once
    (before, the film was cut first, then `error: File exists (notes.txt)`)."""
    video = scene_film[0]
    out = a_file / "cut.otio"
    line = one_error_line(run(["baseline", str(video), "-o", str(out), "--no-progress"]))
    assert str(out) in line and "is a file" in line
    report = a_file / "sub" / "report.html"
    line = one_error_line(run(["cut", str(video), "-o", str(a_file.parent / "x.otio"),
                               "--model", "embedded", "--report", str(report),
                               "--no-progress"]))
    assert str(report) in line and "is a file" in line
    assert not (a_file.parent / "x.otio").exists()


def test_folder_outputs_that_are_files(a_file: Path) -> None:
    """Commands that write a folder (synth, batch) say a file is in the way, not `File exists`."""
    assert one_error_line(run(["synth", str(a_file), "--films", "1"])) == (
        f"error: {a_file}: is a file, not a folder")
    line = one_error_line(run(["batch", str(a_file), "-o", str(a_file)]))
    assert line.endswith(f"{a_file.name}: is a file, not a folder"), line


@pytest.mark.parametrize("args, option", [
    (["--min-shot", "0"], "--min-shot"),
    (["--min-shot", "-5"], "--min-shot"),
    (["--shot-threshold", "-1"], "--shot-threshold"),
])
def test_shot_options_out_of_range(scene_film: tuple[Path, list[int], list[int]], tmp_path: Path,
                                   args: list[str], option: str) -> None:
    """Negative shot lengths and thresholds were taken silently (and changed the shots)."""
    for command in ("cut", "baseline"):
        result = run([command, str(scene_film[0]), "-o", str(tmp_path / "x.otio"), *args])
        assert option in usage_error(result)
    assert not (tmp_path / "x.otio").exists()


def test_threshold_with_scenes_is_refused(scene_film: tuple[Path, list[int], list[int]],
                                          tmp_path: Path) -> None:
    """--scenes decides the cuts without θ, so a --threshold beside it was silently ignored."""
    for scenes in ("3", "auto"):
        result = run(["cut", str(scene_film[0]), "-o", str(tmp_path / "x.otio"),
                      "--scenes", scenes, "--threshold", "0.3"])
        assert "--threshold and --scenes" in usage_error(result)


def test_eval_empty_manifest_shows_eval_entries(tmp_path: Path) -> None:
    """eval's manifest holds {pred, truth}; its error showed train's {video, timeline}."""
    manifest = tmp_path / "pairs.yaml"
    manifest.write_text("")
    line = one_error_line(run(["eval", str(manifest)]))
    assert "pred:" in line and "truth:" in line and "timeline" not in line


def test_pseudo_label_directory(tmp_path: Path) -> None:
    """A folder is not `no such video file`: it exists."""
    folder = tmp_path / "footage"
    folder.mkdir()
    line = usage_error(run(["pseudo-label", str(folder), "-o", str(tmp_path / "out")]))
    assert "is a directory" in line


def test_summary_says_how_the_count_was_decided(
        scene_film: tuple[Path, list[int], list[int]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`--scenes N` printed `θ 0.210 (80th percentile)`, a θ that cut nothing, and said nothing
    when the film had fewer shots than N; `--scenes auto` printed `margin 0.00` where the
    margin was 0.003. Now: N from --scenes (and how many were made), or the next best N and
    whether the choice was clear, as the report words it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    video, shot_cuts, _ = scene_film
    n_shots = len(shot_cuts) + 1
    out = tmp_path / "many.otio"
    result = run(["cut", str(video), "-o", str(out), "--model", "embedded",
                  "--scenes", "50", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"N = 50 from --scenes ({n_shots} made: {n_shots} shots)" in result.output
    assert "θ" not in result.output
    timeline = otio.adapters.read_from_file(str(out))
    assert timeline.metadata["scenesem"]["threshold_source"] == "not used: --scenes 50"

    result = run(["cut", str(video), "-o", str(tmp_path / "auto.otio"), "--model", "embedded",
                  "--no-progress"])
    assert result.exit_code == 0, result.output
    decision = next(line for line in result.output.splitlines() if line.startswith("decision"))
    assert "chosen from the film" in decision and "next best N = " in decision
    assert decision.endswith(("clear)", "a close call)")), decision


@pytest.mark.parametrize("option, value", [("--lr-head", "0"), ("--lr-head", "-1"),
                                           ("--lr-backbone", "-1e-5"), ("--alpha", "-1"),
                                           ("--lambda-neg", "-0.5")])
def test_train_rates_and_weights_out_of_range(tmp_path: Path, option: str, value: str) -> None:
    """A negative learning rate or loss weight trained the wrong way without a word."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text("- {video: film.mp4, timeline: film.otio}\n")
    result = run(["train", "--data", str(manifest), "--out", str(tmp_path / "ckpt"),
                  option, value])
    assert option in usage_error(result)
    assert not (tmp_path / "ckpt").exists()


def test_shots_from_the_edit_of_another_film_are_flagged(
        scene_film: tuple[Path, list[int], list[int]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """`--shots` with the edit of a longer (other) film: its cuts past the end were dropped in
    silence and the film cut into whatever was left. Now one warning line says so."""
    video = scene_film[0]
    n_frames = sum([30, 26, 34, 28, 31, 25, 33, 27, 30])  # conftest's scene_film
    track = otio.schema.Track(name="V1")
    for start in range(0, 4 * n_frames, 50):
        track.append(otio.schema.Clip(
            name=f"shot {start}", media_reference=otio.schema.ExternalReference(
                target_url=(tmp_path / "other.mp4").as_uri()),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start, 25),
                                                 otio.opentime.RationalTime(50, 25))))
    edit = tmp_path / "other_film.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(tracks=[track]), str(edit))
    with caplog.at_level("WARNING"):
        result = run(["cut", str(video), "-o", str(tmp_path / "x.otio"), "--model", "embedded",
                      "--shots", str(edit), "--no-progress"])
    assert result.exit_code == 0, result.output
    said = [r.getMessage() for r in caplog.records if "past the end" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith(f"{edit}: ") and f"past the end of {video.name}" in said[0]


def test_train_warns_when_calibration_finds_no_scene_cut(
        scene_film: tuple[Path, list[int], list[int]], tmp_path: Path) -> None:
    """pseudo-label can put a one-shot film in `split: val`; θ calibrated there matched no cut
    (F1 0, θ = 1) and the checkpoint cut every film into one scene without a word."""
    from films import render_film

    video, _, scene_cuts = scene_film
    edit = tmp_path / "edit.csv"
    edit.write_text("start_s\n0\n" + "".join(f"{c / 25}\n" for c in scene_cuts))
    one_shot = tmp_path / "one_shot.mp4"
    render_film(one_shot, 25, [60], width=160, height=96)
    one_scene = tmp_path / "one_scene.csv"
    one_scene.write_text("start_s\n0\n")
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(f"- {{video: {video}, timeline: {edit}}}\n"
                        f"- {{video: {one_shot}, timeline: {one_scene}, split: val}}\n")
    result = run(["train", "--data", str(manifest), "--out", str(tmp_path / "ckpt"),
                  "--model", "embedded", "--alpha", "0", "--steps", "2",
                  "--boundary-members", "1", "--boundary-folds", "0", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "(F1 0.000 on val)" in result.output
    assert "warning: θ matched no scene cut of the val films" in result.output


def test_train_checks_its_output_folder_before_training(a_file: Path, tmp_path: Path) -> None:
    """--out is written after the training: a folder that cannot be made there failed only
    then (an hour of training lost). The manifest is not even read."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text("- {video: film.mp4, timeline: film.otio}\n")
    for out, said in ((a_file, "is a file, not a folder"), (a_file / "ckpt", "is a file")):
        line = one_error_line(run(["train", "--data", str(manifest), "--out", str(out)]))
        assert line.startswith(f"error: {out}: ") and said in line, line


def cut_of(path: Path, film: str, cuts: list[int], n_frames: int) -> Path:
    """An OTIO timeline of `film` (25 fps) with one clip per scene."""
    track = otio.schema.Track(name="Scenes")
    for start, end in zip([0, *cuts], [*cuts, n_frames]):
        track.append(otio.schema.Clip(
            name=f"scene {start}", media_reference=otio.schema.ExternalReference(
                target_url=(path.parent / film).as_uri()),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start, 25),
                                                 otio.opentime.RationalTime(end - start, 25))))
    otio.adapters.write_to_file(otio.schema.Timeline(tracks=[track]), str(path))
    return path


def test_eval_of_cuts_of_two_films_is_flagged(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """A prediction for one film scored against another film's truth went unremarked."""
    pred = cut_of(tmp_path / "pred.otio", "bikes.mp4", [50, 120], 250)
    truth = cut_of(tmp_path / "truth.otio", "feature.mp4", [60, 120], 250)
    same = cut_of(tmp_path / "same.otio", "bikes.mp4", [60, 120], 250)
    with caplog.at_level("WARNING"):
        assert run(["eval", str(pred), "--truth", str(same)]).exit_code == 0
        assert not [r for r in caplog.records if "cuts" in r.getMessage()]
        assert run(["eval", str(pred), "--truth", str(truth)]).exit_code == 0
    said = [r.getMessage() for r in caplog.records if "scored against each other" in
            r.getMessage()]
    assert said == ["pred.otio cuts bikes.mp4 but truth.otio cuts feature.mp4; scored against "
                    "each other anyway"]


def test_convert_says_when_fps_is_ignored(tmp_path: Path) -> None:
    """`--fps` tells an EDL or CSV its rate; a format that carries its own is read at that
    rate, and the run says --fps was ignored instead of taking it in silence."""
    rate = 25  # not the EDL reader's default (24): the second run must use its --fps
    timeline = otio.schema.Timeline(name="t")
    track = otio.schema.Track(name="Scenes")
    for start, n in ((0, 48), (48, 24)):
        track.append(otio.schema.Clip(name=f"c{start}", source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(n, rate))))
    timeline.tracks.append(track)
    source = tmp_path / "t.otio"
    otio.adapters.write_to_file(timeline, str(source))
    result = CliRunner().invoke(main, ["convert", str(source), "-o", str(tmp_path / "t.edl"),
                                       "--fps", "24"])
    assert result.exit_code == 0, result.output
    assert "warning: --fps 24 ignored: a .otio timeline carries its own rate" in result.output
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "t.edl"), "-o",
                                       str(tmp_path / "back.otio"), "--fps", "25"])
    assert result.exit_code == 0 and "ignored" not in result.output, result.output
    # Both runs did their job: the EDL was written at the .otio's 25 (not the ignored 24) and
    # read back at --fps 25, so the clips return on their frames.
    back = otio.adapters.read_from_file(str(tmp_path / "back.otio"))
    assert [(c.source_range.start_time.rate, c.source_range.start_time.to_frames(),
             c.source_range.duration.to_frames()) for c in back.find_clips()] == \
        [(rate, 0, 48), (rate, 48, 24)]


def test_no_progress_silences_the_libraries_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--no-progress` (or JSON progress for a program reading stderr) leaves no tqdm bar of
    transformers' ("Loading weights", "Writing model shards"): an imported transformers is
    told, one imported later reads the environment."""
    from transformers.utils import logging as hf_logging

    from scenesem_otio.core.progress import quiet_library_bars

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    hf_logging.enable_progress_bar()
    try:
        assert hf_logging.is_progress_bar_enabled()
        quiet_library_bars()
        assert not hf_logging.is_progress_bar_enabled()
        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    finally:
        hf_logging.enable_progress_bar()
