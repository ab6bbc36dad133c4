"""Media stage on films with known structure (issue 2, acceptance 3–4): probe, sampler, shots.

Films are rendered for real (H.264 through PyAV) at 24000/1001, 25 and 30000/1001, with and
without a 01:00:00:00 start timecode (drop-frame at 29.97); every frame number is known.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import opentimelineio as otio
import pytest
from click.testing import CliRunner
from films import shot_frames

from scenesem_otio.cli import main
from scenesem_otio.media.decode import DecodeStats
from scenesem_otio.media.probe import probe
from scenesem_otio.media.sampling import sample_clips
from scenesem_otio.media.shots import detect_shots

# name -> (rate, shot lengths, start timecode, drop frame, start as a frame count)
EXPECTED = {
    "f23976": (Fraction(24000, 1001), [30, 41, 25, 52, 36], None, False, 0),
    "f23976_tc": (Fraction(24000, 1001), [30, 41, 25, 52, 36], "01:00:00:00", False, 86400),
    "f25": (Fraction(25), [40, 26, 33, 45], None, False, 0),
    "f2997": (Fraction(30000, 1001), [35, 48, 29, 40], None, False, 0),
    "f2997_df": (Fraction(30000, 1001), [35, 48, 29, 40], "01:00:00;00", True, 107892),
}


def cuts_of(lengths: list[int]) -> list[int]:
    return [int(x) for x in np.cumsum(lengths)[:-1]]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_probe_is_exact(films: dict, name: str) -> None:
    video, _ = films[name]
    fps, lengths, tc, drop, start = EXPECTED[name]
    info = probe(video)
    assert isinstance(info.fps, Fraction) and info.fps == fps  # 24000/1001 stays 24000/1001
    assert info.n_frames == sum(lengths)
    assert info.duration_s == pytest.approx(float(sum(lengths) / fps))
    assert (info.start_timecode, info.drop_frame, info.start_frame) == (tc, drop, start)
    assert (info.width, info.height, info.vfr) == (320, 180, False)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_baseline_cuts_exact_frames(films: dict, name: str, tmp_path: Path) -> None:
    video, _ = films[name]
    fps, lengths, _, _, start = EXPECTED[name]
    assert detect_shots(video) == cuts_of(lengths)
    out = tmp_path / "b.otio"
    result = CliRunner().invoke(main, ["baseline", str(video), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    timeline = otio.adapters.read_from_file(str(out))
    assert timeline.global_start_time.to_frames() == start
    clips = list(timeline.find_clips())
    starts = [c.source_range.start_time for c in clips]
    assert all(t.rate == float(fps) for t in starts)
    media_start = clips[0].media_reference.available_range.start_time.to_frames()
    assert media_start == start
    assert [t.to_frames() - media_start for t in starts] == [0, *cuts_of(lengths)]
    assert sum(c.source_range.duration.to_frames() for c in clips) == sum(lengths)


@pytest.mark.parametrize(("name", "rate"), [("f23976_tc", "24000/1001 (23.976 fps)"),
                                            ("f2997_df", "30000/1001 (29.970 fps)")])
def test_info_says_what_the_film_is(films: dict, name: str, rate: str) -> None:
    """`scenesem info` had tests of its errors only: here its facts, known by construction."""
    video, _ = films[name]
    _, lengths, tc, drop, start = EXPECTED[name]
    result = CliRunner().invoke(main, ["info", str(video), "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert (facts["rate"], facts["frames"], facts["size"], facts["audio"]) == (
        rate, sum(lengths), "320x180", False)
    assert (facts["start_timecode"], facts["start_frame"], facts["drop_frame"]) == (
        tc, start, drop)
    table = CliRunner().invoke(main, ["info", str(video)]).output.splitlines()
    assert f"start_timecode  {tc}" in table and f"rate            {rate}" in table, table


def reference_frames(lengths: list[int], size: int = 224) -> np.ndarray:
    """The frames as rendered (before encoding), shorter side to `size`, centre-cropped."""
    frames = np.concatenate([shot_frames(seed, n, 320, 180) for seed, n in enumerate(lengths)])
    h = size
    w = round(320 * size / 180)
    x0 = (w - size) // 2
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)[:, x0 : x0 + size]
                     for f in frames])


@pytest.mark.parametrize("name", ["f23976_tc", "f2997_df"])
def test_sampler_one_pass_returns_the_asked_frames(films: dict, name: str) -> None:
    video, _ = films[name]
    _, lengths, _, _, _ = EXPECTED[name]
    n = sum(lengths)
    rng = np.random.default_rng(0)
    # Overlapping, out-of-order clips, repeated frames, the first and the last frame.
    frame_sets = [sorted(rng.integers(0, n, 8).tolist()) for _ in range(12)]
    frame_sets += [[0] * 8, [n - 1] * 8, list(range(n - 8, n)), list(range(0, n, n // 8))[:8]]
    rng.shuffle(frame_sets)
    stats = DecodeStats()
    clips = sample_clips(video, frame_sets, size=224, stats=stats)
    assert clips.dtype == np.uint8 and clips.shape == (len(frame_sets), 8, 224, 224, 3)
    assert stats.frames_decoded <= n  # one forward pass: no frame decoded twice
    ref = reference_frames(lengths).astype(np.int16)
    for clip, frames in zip(clips, frame_sets, strict=True):
        for got, want in zip(clip, frames, strict=True):
            err = np.abs(ref - got.astype(np.int16)).mean(axis=(1, 2, 3))
            # The asked frame is the nearest rendered one (ties: frames identical inside the
            # crop, where the moving square is still outside it).
            assert err[want] == err.min(), (want, int(np.argmin(err)))
            assert err[want] < 6


def test_sampler_decodes_once_for_any_plan(films: dict) -> None:
    video, _ = films["f25"]
    n = sum(EXPECTED["f25"][1])
    for frame_sets in ([[n - 1] * 4], [list(range(n))] * 3, [[5, 1, 9, 3]], [[0, 0, 0, 0]]):
        stats = DecodeStats()
        sample_clips(video, frame_sets, size=64, stats=stats)
        assert stats.frames_decoded == max(max(s) for s in frame_sets) + 1 <= n


def test_cut_finds_faint_camera_changes_that_pyscenedetect_defaults_miss(tmp_path: Path) -> None:
    """Crops of one place differ little: PySceneDetect's min_content_val of 15 misses some of
    those cuts, cut's 8 finds every one (and nothing else); `baseline` stays PySceneDetect."""
    import scenedetect

    from scenesem_otio.core.config import PYSCENEDETECT_SHOTS, ShotOptions
    from scenesem_otio.demo.synth import render_synth_film

    video = tmp_path / "places.mp4"
    scenes = render_synth_film(video, 1, 128, 72, n_scenes=6)
    truth = sorted({f for s in scenes for f in s.shots} - {0})
    reference = [a.frame_num for a, _ in scenedetect.detect(
        str(video), scenedetect.AdaptiveDetector())[1:]]
    assert detect_shots(video, min_content=PYSCENEDETECT_SHOTS.min_content) == reference
    assert set(reference) < set(truth)  # every cut it finds is true, but it misses some
    assert detect_shots(video, min_content=ShotOptions().min_content) == truth
    out = tmp_path / "b.otio"
    result = CliRunner().invoke(main, ["baseline", str(video), "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert len(otio.adapters.read_from_file(str(out)).find_clips()) == len(reference) + 1
    result = CliRunner().invoke(main, ["baseline", str(video), "-o", str(out), "--no-progress",
                                       "--min-content", "8"])
    assert len(otio.adapters.read_from_file(str(out)).find_clips()) == len(truth) + 1
    result = CliRunner().invoke(main, ["baseline", str(video), "-o", str(out),
                                       "--shot-detector", "content", "--min-content", "8"])
    assert result.exit_code == 2 and "adaptive only" in result.output
