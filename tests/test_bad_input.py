"""Bad-input matrix (SPEC §7): every command ends in a result or one clear error line.

Each case runs the real CLI on a real file. A failure must print exactly one `error:` line that
names the file, exit non-zero, show no traceback and leave no output file; a damaged-but-usable
input must still produce a result.
"""

from __future__ import annotations

import json
import os
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from films import render_film, shot_frames

from scenesem_otio.cli import main
from scenesem_otio.media.encode import VideoWriter


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args, catch_exceptions=True)


def assert_clean_error(result: Result, name: str, output: Path | None = None) -> None:
    """One `error:` line naming the file, non-zero exit, no traceback, no output file."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert name in errors[0], errors[0]
    if output is not None:
        assert not output.exists()
        assert not [p for p in output.parent.iterdir() if p.name.startswith(f".{output.name}")]


def assert_result(result: Result, output: Path) -> None:
    assert result.exit_code == 0, result.output
    assert output.exists() and output.stat().st_size > 0


# ---------------------------------------------------------------- bad media, made for real


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    good = root / "good.mp4"
    render_film(good, 25, [30, 30], width=160, height=96)
    files: dict[str, Path] = {"good": good}

    files["missing"] = root / "missing.mp4"
    files["directory"] = root / "adir.mp4"
    files["directory"].mkdir()
    files["zero_byte"] = root / "empty.mp4"
    files["zero_byte"].write_bytes(b"")
    files["text"] = root / "notes.mp4"
    files["text"].write_text("this is not a video\n" * 50)

    data = good.read_bytes()
    files["truncated"] = root / "truncated.mp4"
    files["truncated"].write_bytes(data[: len(data) // 2])

    import av

    files["audio_only"] = root / "audio_only.m4a"
    with av.open(str(files["audio_only"]), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=48000)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate = 48000
            frame.pts = i * 1024
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    # A video stream with no frames in it: a valid container, nothing to cut.
    files["zero_frame"] = root / "zero_frame.mp4"
    with av.open(str(files["zero_frame"]), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 128, 72, "yuv420p"
    return files


@pytest.fixture(scope="module")
def usable(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int]]:
    """Unusual but valid media: (path, expected frame count)."""
    root = tmp_path_factory.mktemp("usable")
    out: dict[str, tuple[Path, int]] = {}
    for name, fps in {"r23976": Fraction(24000, 1001), "r2997": Fraction(30000, 1001),
                      "r5994": Fraction(60000, 1001), "r12_5": Fraction(25, 2)}.items():
        path = root / f"{name}.mp4"
        render_film(path, fps, [20, 20], width=128, height=72)
        out[name] = (path, 40)

    one = root / "one_frame.mp4"
    render_film(one, 25, [1], width=128, height=72)
    out["one_frame"] = (one, 1)

    big = root / "uhd.mp4"
    with VideoWriter(big, 25, 3840, 2160) as w:
        for f in shot_frames(3, 6, 3840, 2160):
            w.write(f)
    out["4k"] = (big, 6)

    # VFR: frame durations alternate 40 ms / 80 ms in a 1/1000 time base.
    import av

    vfr = root / "vfr.mp4"
    with av.open(str(vfr), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 128, 72, "yuv420p"
        s.time_base = Fraction(1, 1000)
        pts = 0
        for i, f in enumerate(np.concatenate([shot_frames(1, 15, 128, 72),
                                              shot_frames(2, 15, 128, 72)])):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            pts += 40 if i % 2 == 0 else 80
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    out["vfr"] = (vfr, 30)

    # Rotation metadata (display matrix) written by the real ffmpeg binary.
    import imageio_ffmpeg

    src = out["r23976"][0]
    rotated = root / "rotated.mp4"
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-display_rotation", "90",
         "-i", str(src), "-c", "copy", str(rotated)], capture_output=True, text=True)
    if proc.returncode == 0:
        out["rotated"] = (rotated, 40)

    # Corrupt bytes in the middle of the stream: decodable with warnings.
    corrupt = root / "corrupt_mid.mp4"
    good = root / "long.mp4"
    render_film(good, 25, [40, 40, 40], width=128, height=72)
    data = bytearray(good.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 400] = bytes(np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8))
    corrupt.write_bytes(bytes(data))
    out["corrupt_mid"] = (corrupt, 120)
    return out


BAD_MEDIA = ["missing", "directory", "zero_byte", "text", "truncated", "audio_only",
             "zero_frame"]


@pytest.mark.parametrize("case", BAD_MEDIA)
def test_baseline_bad_media(bad: dict[str, Path], tmp_path: Path, case: str) -> None:
    out = tmp_path / "out.otio"
    assert_clean_error(run(["baseline", str(bad[case]), "-o", str(out), "--no-progress"]),
                       bad[case].name, out)


@pytest.mark.parametrize("case", BAD_MEDIA)
def test_cut_bad_media(bad: dict[str, Path], tmp_path: Path, tiny_videomae_dir: Path,
                       case: str) -> None:
    out = tmp_path / "out.edl"
    result = run(["cut", str(bad[case]), "-o", str(out), "--model", str(tiny_videomae_dir),
                  "--no-progress"])
    assert_clean_error(result, bad[case].name, out)


@pytest.mark.parametrize("case", BAD_MEDIA)
def test_info_bad_media(bad: dict[str, Path], case: str) -> None:
    assert_clean_error(run(["info", str(bad[case])]), bad[case].name)


def test_unreadable_file(bad: dict[str, Path]) -> None:
    """A file without read permission. Root reads anything, so as root the CLI runs with the
    effective uid of `nobody` (after one warm-up run, so no import needs root's files)."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="scenesem-locked-"))
    try:
        root.chmod(0o777)
        locked = root / "locked.mp4"
        locked.write_bytes(bad["good"].read_bytes())
        locked.chmod(0)
        out = root / "out.otio"
        args = ["baseline", str(locked), "-o", str(out), "--no-progress"]
        if os.geteuid() != 0:
            assert_clean_error(run(args), "locked.mp4", out)
            return
        assert run(["baseline", str(bad["good"]), "-o", str(root / "warm.otio"),
                    "--no-progress"]).exit_code == 0
        os.setegid(65534)
        os.seteuid(65534)
        try:
            result = run(args)
        finally:
            os.seteuid(0)
            os.setegid(0)
        assert_clean_error(result, "locked.mp4", out)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_unknown_output_extension(bad: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.docx"
    assert_clean_error(run(["baseline", str(bad["good"]), "-o", str(out)]), "out.docx", out)


def test_failed_write_keeps_previous_output(bad: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "keep.otio"
    out.write_text("previous")
    result = run(["baseline", str(bad["truncated"]), "-o", str(out), "--no-progress"])
    assert result.exit_code != 0
    assert out.read_text() == "previous"


@pytest.mark.parametrize(
    "case", ["r23976", "r2997", "r5994", "r12_5", "one_frame", "4k", "vfr", "rotated",
             "corrupt_mid"])
def test_cut_usable_media(usable: dict[str, tuple[Path, int]], tmp_path: Path,
                          tiny_videomae_dir: Path, case: str) -> None:
    if case not in usable:
        pytest.skip("ffmpeg could not write rotation metadata")
    import opentimelineio as otio

    path, n_frames = usable[case]
    if case == "rotated":  # the case is what it says: a 90° display matrix, read as one
        from scenesem_otio.media.probe import probe

        info = probe(path)
        assert (info.rotation, info.width, info.height) == (270, 72, 128), info
    out = tmp_path / "out.otio"
    result = run(["cut", str(path), "-o", str(out), "--model", str(tiny_videomae_dir),
                  "--min-scene", "0", "--no-progress"])
    assert_result(result, out)
    timeline = otio.adapters.read_from_file(str(out))
    clips = list(timeline.video_tracks()[0].find_clips())
    total = sum(c.source_range.duration.to_frames() for c in clips)
    if case == "corrupt_mid":
        assert 0 < total <= n_frames
    elif case in ("r12_5", "vfr"):  # conformed to a standard rate: the film's length in seconds
        from scenesem_otio.media.probe import probe

        rate = clips[0].source_range.duration.rate
        assert rate in (24000 / 1001, 24, 25, 30000 / 1001, 30, 50, 60000 / 1001, 60)
        # A VFR stream does not store its last frame's duration: allow that one frame.
        slack = 0.5 / rate if case == "r12_5" else 2 / rate
        assert abs(total / rate - probe(path).duration_s) <= slack
    else:
        assert total == n_frames


# ---------------------------------------------------------------- bad timelines and manifests


@pytest.fixture(scope="module")
def bad_timelines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad_timelines")
    files = {
        "otio_garbage": ("garbage.otio", '{"OTIO_SCHEMA": "Timeline.1", "tracks": 7'),
        "otio_not_json": ("words.otio", "hello"),
        "edl_garbage": ("garbage.edl", "TITLE: x\n001  AX V C 99:99:99:99 garbage\n"),
        "xml_garbage": ("garbage.xml", "<xmeml version='4'><sequence><media>"),
        "xml_wrong_root": ("wrong.xml", "<html><body>hi</body></html>"),
        "fcpxml_garbage": ("garbage.fcpxml", "<fcpxml version='1.9'><resources>"),
        "csv_garbage": ("garbage.csv", "a,b\nx,y\n"),
    }
    out = {}
    for key, (name, text) in files.items():
        (root / name).write_text(text)
        out[key] = root / name
    out["missing"] = root / "nothere.otio"
    return out


@pytest.mark.parametrize(
    "case", ["otio_garbage", "otio_not_json", "edl_garbage", "xml_garbage", "xml_wrong_root",
             "fcpxml_garbage", "csv_garbage", "missing"])
def test_eval_bad_timeline(bad_timelines: dict[str, Path], case: str, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("start_s\n0\n5\n")
    result = run(["eval", str(bad_timelines[case]), "--truth", str(good)])
    assert_clean_error(result, bad_timelines[case].name)


@pytest.mark.parametrize("case", ["otio_garbage", "edl_garbage", "xml_garbage", "missing"])
def test_cut_bad_shots_edit(bad: dict[str, Path], bad_timelines: dict[str, Path],
                            tiny_videomae_dir: Path, tmp_path: Path, case: str) -> None:
    out = tmp_path / "out.otio"
    result = run(["cut", str(bad["good"]), "-o", str(out), "--model", str(tiny_videomae_dir),
                  "--shots", str(bad_timelines[case]), "--no-progress"])
    assert_clean_error(result, bad_timelines[case].name, out)


@pytest.mark.parametrize("case", ["otio_garbage", "missing"])
def test_distance_bad_timeline(bad_timelines: dict[str, Path], tmp_path: Path,
                               case: str) -> None:
    out = tmp_path / "heat.png"
    assert_clean_error(run(["distance", str(bad_timelines[case]), "-o", str(out)]),
                       bad_timelines[case].name, out)


def test_cut_model_dir_missing(bad: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.otio"
    model = tmp_path / "no_model_here"
    model.mkdir()
    assert_clean_error(run(["cut", str(bad["good"]), "-o", str(out), "--model", str(model)]),
                       "no_model_here", out)


@pytest.mark.parametrize("case", ["missing_video", "not_yaml", "not_a_list", "missing_file"])
def test_train_bad_manifest(bad: dict[str, Path], tiny_videomae_dir: Path, tmp_path: Path,
                            case: str) -> None:
    manifest = tmp_path / "manifest.yaml"
    if case == "missing_video":
        manifest.write_text(json.dumps([{"video": "nowhere.mp4", "timeline": "t.otio"}]))
        name = "nowhere.mp4"
    elif case == "not_yaml":
        manifest.write_text("{{{ : : ]")
        name = "manifest.yaml"
    elif case == "not_a_list":
        manifest.write_text("42\n")
        name = "manifest.yaml"
    else:
        manifest = tmp_path / "absent.yaml"
        name = "absent.yaml"
    out = tmp_path / "ckpt"
    result = run(["train", "--data", str(manifest), "--model", str(tiny_videomae_dir),
                  "--out", str(out), "--steps", "1", "--no-progress"])
    assert_clean_error(result, name)
    assert not out.exists()


@pytest.mark.parametrize("case", ["text", "truncated", "zero_frame"])
def test_train_bad_media_in_manifest(bad: dict[str, Path], tiny_videomae_dir: Path,
                                     tmp_path: Path, case: str) -> None:
    timeline = tmp_path / "edit.csv"
    timeline.write_text("start_s\n0\n1\n")
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(json.dumps([{"video": str(bad[case]), "timeline": str(timeline)}]))
    out = tmp_path / "ckpt"
    result = run(["train", "--data", str(manifest), "--model", str(tiny_videomae_dir),
                  "--out", str(out), "--steps", "1", "--no-progress"])
    assert_clean_error(result, bad[case].name)
    assert not out.exists()


# ---------------------------------------------------------------- timelines that do not fit


@pytest.fixture(scope="module")
def other_rate_edit(bad: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An edit of good.mp4 (25 fps) made at 30000/1001: a different rate than the media's."""
    import opentimelineio as otio

    rate = 30000 / 1001
    path = tmp_path_factory.mktemp("other_rate") / "edit_2997.otio"
    track = otio.schema.Track(name="V1")
    for start, dur in [(0, 36), (36, 36)]:
        track.append(otio.schema.Clip(
            name=f"c{start}", media_reference=otio.schema.ExternalReference(
                target_url=bad["good"].resolve().as_uri()),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start, rate),
                                                 otio.opentime.RationalTime(dur, rate))))
    otio.adapters.write_to_file(otio.schema.Timeline(tracks=[track]), str(path))
    return path


def test_cut_shots_edit_at_another_rate(bad: dict[str, Path], other_rate_edit: Path,
                                        tiny_videomae_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.otio"
    result = run(["cut", str(bad["good"]), "-o", str(out), "--model", str(tiny_videomae_dir),
                  "--shots", str(other_rate_edit), "--no-progress"])
    assert_clean_error(result, other_rate_edit.name, out)
    assert "rate" in result.output


def test_train_timeline_at_another_rate(bad: dict[str, Path], other_rate_edit: Path,
                                        tiny_videomae_dir: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(json.dumps([{"video": str(bad["good"]),
                                     "timeline": str(other_rate_edit)}]))
    out = tmp_path / "ckpt"
    result = run(["train", "--data", str(manifest), "--model", str(tiny_videomae_dir),
                  "--out", str(out), "--steps", "1", "--no-progress"])
    assert_clean_error(result, other_rate_edit.name)
    assert not out.exists()


@pytest.fixture(scope="module")
def orphan_timeline(bad: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenesem timeline whose media has since been deleted."""
    import shutil

    root = tmp_path_factory.mktemp("orphan")
    video = root / "gone.mp4"
    shutil.copy(bad["good"], video)
    path = root / "orphan.otio"
    assert run(["baseline", str(video), "-o", str(path), "--no-progress"]).exit_code == 0
    video.unlink()
    return path


def test_eval_baseline_needs_missing_media(orphan_timeline: Path) -> None:
    """Scoring works without media; `--baseline` needs it and says which file is gone."""
    scored = run(["eval", str(orphan_timeline), "--truth", str(orphan_timeline), "--json"])
    assert scored.exit_code == 0, scored.output
    (row,) = json.loads(scored.output)["results"]  # the timeline against itself: perfect
    assert (row["f1"], row["precision"], row["recall"]) == (1, 1, 1), row
    assert row["n_truth"] == 1  # the one cut of good.mp4 (two 30-frame shots) was read
    result = run(["eval", str(orphan_timeline), "--truth", str(orphan_timeline), "--baseline"])
    assert_clean_error(result, "gone.mp4")


def test_cut_with_edit_of_missing_media(bad: dict[str, Path], tiny_videomae_dir: Path,
                                        tmp_path: Path) -> None:
    """An edit only lends its cut points: its media reference may be gone (result, not error).
    Its cuts (12, 41) are not the film's own (30), so the output shows they were taken."""
    import opentimelineio as otio

    track = otio.schema.Track(name="V1")
    for start, end in [(0, 12), (12, 41), (41, 60)]:
        track.append(otio.schema.Clip(
            name=f"c{start}", media_reference=otio.schema.ExternalReference(
                target_url=(tmp_path / "gone.mp4").as_uri()),
            source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start, 25),
                                                 otio.opentime.RationalTime(end - start, 25))))
    edit = tmp_path / "edit_of_gone.otio"
    otio.adapters.write_to_file(otio.schema.Timeline(tracks=[track]), str(edit))
    out = tmp_path / "out.otio"
    result = run(["cut", str(bad["good"]), "-o", str(out), "--model", str(tiny_videomae_dir),
                  "--shots", str(edit), "--min-scene", "0", "--no-progress"])
    assert_result(result, out)
    timeline = otio.adapters.read_from_file(str(out))
    assert list(timeline.metadata["scenesem"]["shot_cuts"]) == [12, 41]
    clips = list(timeline.video_tracks()[0].find_clips())
    starts = [c.source_range.start_time.to_frames() for c in clips]
    assert starts[0] == 0 and set(starts) <= {0, 12, 41}  # scenes start on the edit's shots
    assert sum(c.source_range.duration.to_frames() for c in clips) == 60
