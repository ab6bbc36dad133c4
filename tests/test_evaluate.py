"""Evaluation metrics on hand-made cases with known values, and `scenesem eval` end to end."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scenesem_otio.cli import main
from scenesem_otio.evaluate.metrics import (
    Segmentation,
    average_precision,
    boundary_prf,
    coverage_overflow,
    intervals,
    miou,
    overall,
    score,
)


def test_perfect() -> None:
    seg = Segmentation(starts=[0, 10, 25], end=40)
    m = score(seg, seg)
    assert (m["precision"], m["recall"], m["f1"]) == (1, 1, 1)
    assert m["miou"] == 1 and m["coverage"] == 1 and m["overflow"] == 0 and m["cov_of_f"] == 1


def test_all_missed() -> None:
    m = boundary_prf([], [10, 25])
    assert (m["precision"], m["recall"], m["f1"]) == (0, 0, 0)
    # One predicted scene over truth [0,10) [10,25) [25,40): IoU 10/40, 15/40, 15/40 from the
    # truth side; 15/40 from the predicted side.
    mi = miou(intervals([0], 40), intervals([0, 10, 25], 40))
    assert mi["miou_truth"] == pytest.approx((10 + 15 + 15) / 40 / 3)
    assert mi["miou_pred"] == pytest.approx(15 / 40)


def test_tolerance_edges() -> None:
    assert boundary_prf([10.5], [10.0], 0.5)["f1"] == 1
    assert boundary_prf([10.51], [10.0], 0.5)["f1"] == 0
    assert boundary_prf([10.51], [10.0], 1.0)["f1"] == 1


def test_greedy_one_to_one() -> None:
    # Two predictions near one truth: one match only; the closer one wins.
    m = boundary_prf([9.8, 10.1], [10.0], 0.5)
    assert m["hits"] == 1 and m["precision"] == 0.5 and m["recall"] == 1
    assert m["f1"] == pytest.approx(2 / 3)
    # Closest-first matching frees the other truth for the other prediction.
    assert boundary_prf([10.4, 10.6], [10.0, 11.0], 0.5)["hits"] == 2


def test_over_segmentation() -> None:
    truth = Segmentation(starts=[0, 20], end=40)
    pred = Segmentation(starts=[0, 5, 10, 20, 30], end=40)
    m = score(pred, truth)
    assert m["recall"] == 1 and m["precision"] == pytest.approx(1 / 4)
    assert m["f1"] == pytest.approx(0.4)
    assert m["coverage"] == pytest.approx(0.5)  # [10,20) covers half of [0,20); [20,30) half
    assert m["overflow"] == 0  # nothing spills across truth scenes


def test_under_segmentation_overflow() -> None:
    c = coverage_overflow(intervals([0], 20), intervals([0, 10], 20))
    assert c["coverage"] == 1 and c["overflow"] == 1 and c["cov_of_f"] == 0


def test_average_precision() -> None:
    truth = [10.0, 20.0]
    # Ranked: 10.1 (hit), 15 (miss), 20.2 (hit): AP = (1/1 + 2/3) / 2.
    ap = average_precision([10.1, 15.0, 20.2], [0.9, 0.8, 0.7], truth)
    assert ap == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([10.1, 20.2, 15.0], [0.9, 0.8, 0.1], truth) == pytest.approx(1)
    assert average_precision([15.0], [1.0], truth) == 0
    assert average_precision([1.0], [1.0], []) is None


def test_overall_pools_boundaries() -> None:
    a = score(Segmentation([0, 10], 20), Segmentation([0, 10], 20))
    b = score(Segmentation([0, 5, 15], 20), Segmentation([0, 10], 20))
    o = overall([a, b])
    assert o["hits"] == 1 and o["n_pred"] == 3 and o["n_truth"] == 2
    assert o["precision"] == pytest.approx(1 / 3) and o["recall"] == pytest.approx(0.5)


def write_otio(path: Path, starts: list[int], end: int, rate: float) -> None:
    import opentimelineio as otio
    from opentimelineio.opentime import RationalTime, TimeRange

    tl = otio.schema.Timeline(name="hand")
    track = otio.schema.Track(name="Scenes")
    tl.tracks.append(track)
    bounds = [*starts, end]
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        track.append(otio.schema.Clip(
            name=f"Scene {i + 1}", source_range=TimeRange(RationalTime(a, rate),
                                                          RationalTime(b - a, rate))))
    otio.adapters.write_to_file(tl, str(path))


def write_edl(path: Path, starts: list[int], end: int, rate: float) -> None:
    from opentimelineio.opentime import RationalTime, to_timecode

    lines = ["TITLE: hand", "FCM: NON-DROP FRAME", ""]
    bounds = [*starts, end]
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        tc = [to_timecode(RationalTime(x, rate), rate) for x in (a, b, a, b)]
        lines.append(f"{i + 1:03d}  AX       V     C        {tc[0]} {tc[1]} {tc[2]} {tc[3]}")
    path.write_text("\n".join(lines) + "\n")


def test_eval_otio_vs_edl_of_same_cuts(tmp_path: Path) -> None:
    starts, end = [0, 48, 130, 300], 480
    write_otio(tmp_path / "a.otio", starts, end, 24)
    write_edl(tmp_path / "b.edl", starts, end, 24)
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "a.otio"), "--truth",
                                       str(tmp_path / "b.edl"), "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["results"][0]
    assert row["f1"] == 1 and row["miou"] == pytest.approx(1)
    # EDL vs EDL needs a rate; CSV of starts in seconds works with either.
    csv = tmp_path / "c.csv"
    csv.write_text("start_s\n0\n2\n5.4167\n12.5\n")
    result = CliRunner().invoke(main, ["eval", str(csv), "--truth", str(tmp_path / "a.otio")])
    assert result.exit_code == 0, result.output
    cells = result.output.splitlines()[3].split()  # video method P R F1 ... scenes truth
    assert cells[2:5] == ["1.000"] * 3 and cells[-2:] == ["4", "4"], result.output
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "b.edl"), "--truth",
                                       str(tmp_path / "b.edl")])
    assert result.exit_code == 1 and "--fps" in result.output
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "b.edl"), "--truth",
                                       str(tmp_path / "b.edl"), "--fps", "24", "--json"])
    assert json.loads(result.output)["results"][0]["f1"] == 1


def test_eval_manifest_and_baseline(scene_film: tuple[Path, list[int], list[int]],
                                    tmp_path: Path) -> None:
    video, shot_cuts, scene_cuts = scene_film
    truth = tmp_path / "truth.otio"
    write_otio(truth, [0, *scene_cuts], 264, 25)
    pred = tmp_path / "pred.otio"
    write_otio(pred, [0, *shot_cuts], 264, 25)
    manifest = tmp_path / "m.yaml"
    manifest.write_text(f"- pred: pred.otio\n  truth: truth.otio\n  video: {video}\n"
                        f"- pred: truth.otio\n  truth: truth.otio\n  video: {video}\n")
    result = CliRunner().invoke(main, ["eval", str(manifest), "--baseline", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["results"]
    methods = [(r["video"], r["method"]) for r in rows]
    assert ("OVERALL", "pred") in methods and ("OVERALL", "pyscenedetect") in methods
    first = rows[0]
    assert first["recall"] == 1 and first["precision"] == pytest.approx(2 / 8)
    base = rows[1]  # PySceneDetect finds every shot cut of this film: same as pred
    assert base["method"] == "pyscenedetect" and base["f1"] == pytest.approx(first["f1"])
    assert rows[2]["f1"] == 1  # truth against itself
    # Without a video the baseline cannot run: one clear line.
    manifest.write_text("- pred: pred.otio\n  truth: truth.otio\n")
    result = CliRunner().invoke(main, ["eval", str(manifest), "--baseline"])
    assert result.exit_code == 1 and "video:" in result.output
