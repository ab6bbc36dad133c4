"""Pseudo-scenes for unlabelled footage (train/pseudo.py): the DTW split against brute force,
the votes on hand-made shot sequences, and the whole path on real H.264 films."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from scenesem_otio.cli import main
from scenesem_otio.train.pseudo import (
    dtw_split,
    pseudo_boundary_votes,
    pseudo_cuts,
    validation_films,
)
from tests.test_segment import blocks


def test_dtw_split_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(2, 12))
        a, b = rng.normal(size=n), rng.normal(size=n)
        best = max(range(n - 1), key=lambda k: (a[: k + 1].sum() + b[k + 1 :].sum(), -k))
        assert dtw_split(a, b) == best


def test_dtw_split_by_hand() -> None:
    # Shots 0-1 look like the first shot, 2-3 like the last: the cut is after shot 1.
    assert dtw_split([1.0, 0.9, 0.1, 0.0], [0.0, 0.2, 0.8, 1.0]) == 1
    with pytest.raises(ValueError):
        dtw_split([1.0], [1.0])


def test_votes_find_the_cuts_of_clear_blocks() -> None:
    sizes = [6, 5, 7, 6]
    emb = blocks(sizes, noise=0.05)
    votes = pseudo_boundary_votes(emb, window=4)
    true = list(np.cumsum(sizes)[:-1] - 1)  # transition k = cut after shot k
    assert votes.shape == (sum(sizes) - 1,)
    # A window holding two cuts votes for one of them: the 5-shot scene's cuts share votes.
    assert all(votes[k] >= 0.5 for k in true)
    assert all(votes[k] < 0.5 for k in range(len(votes)) if k not in true)
    starts = np.arange(sum(sizes)) * 2.0
    assert pseudo_cuts(emb, starts, 2.0 * sum(sizes), window=4) == true
    # W = 2 (5-shot windows) finds the cuts of scenes of ≤ 5 shots; a longer scene holds
    # whole windows, which split it by noise (the documented over-cutting).
    short = blocks([4, 3, 5, 4], noise=0.05)
    assert pseudo_cuts(short, np.arange(16.0), 16.0, window=2) == [3, 6, 11]
    assert len(pseudo_cuts(emb, starts, 2.0 * sum(sizes), window=2)) > len(true)
    # A minimum scene longer than the 10-s second block drops one of its two cuts.
    assert len(pseudo_cuts(emb, starts, 2.0 * sum(sizes), window=4, min_scene_s=11.0)
               ) < len(true)


def test_cosine_method_is_cut_s_own_rule() -> None:
    from scenesem_otio.segment.decide import boundary_scores, default_threshold, pick_boundaries

    emb = blocks([5, 9, 4, 7, 3], noise=0.2, seed=2)
    starts = np.arange(28.0)
    scores = boundary_scores(emb, 2)
    assert pseudo_cuts(emb, starts, 28.0, method="cosine") == pick_boundaries(
        scores, list(starts), 28.0, default_threshold(scores), 1, 0.0)
    with pytest.raises(ValueError, match="one of cosine, dtw"):
        pseudo_cuts(emb, starts, 28.0, method="bassl")


def test_votes_ignore_few_chance_votes_at_the_ends() -> None:
    # Two clear blocks; the last transition lies in only a few windows.
    emb = blocks([10, 10], noise=0.05)
    votes = pseudo_boundary_votes(emb, window=4)
    assert votes[9] == pytest.approx(1.0)
    assert votes[-1] <= 0.5 and votes[0] <= 0.5
    assert pseudo_boundary_votes(emb[:1]).shape == (0,)


def test_pseudo_label_then_train_visual_only(synth_dir: Path, tiny_videomae_dir: Path,
                                             tmp_path: Path) -> None:
    """Unlabelled films -> pseudo projects + manifest -> `train --alpha 0` -> a checkpoint that
    cuts; the text-guided default is refused with the fix in one line."""
    videos = sorted(str(p) for p in synth_dir.glob("film_*.mp4"))[:3]
    out = tmp_path / "pseudo"
    runner = CliRunner()
    result = runner.invoke(main, ["pseudo-label", *videos, "-o", str(out), "--model", "embedded",
                                  "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "--alpha 0" in result.output
    import yaml

    entries = yaml.safe_load((out / "manifest.yaml").read_text())
    assert [e["split"] for e in entries] == ["train", "train", "val"]
    for e in entries:
        timeline = json.loads((out / e["timeline"]).read_text())
        assert timeline["metadata"]["scenesem"]["pseudo_labels"] == "cosine"
    common = ["train", "--no-progress", "--data", str(out / "manifest.yaml"), "--model",
              str(tiny_videomae_dir), "--steps", "4", "--batch-scenes", "2",
              "--boundary-members", "1", "--boundary-folds", "0"]
    refused = runner.invoke(main, [*common, "--out", str(tmp_path / "a")])
    assert refused.exit_code == 1 and "--alpha 0" in refused.output
    trained = runner.invoke(main, [*common, "--alpha", "0", "--out", str(tmp_path / "b")])
    assert trained.exit_code == 0, trained.output
    # The checkpoint is the one asked for (visual only, θ fitted on the pseudo val film, a
    # boundary model of the two train films) and `cut` takes its θ.
    meta = json.loads((tmp_path / "b" / "scenesem.json").read_text())
    assert meta["alpha"] == 0 and meta["calibrated_on"] == "val"
    assert meta["boundary_model"]["films"] == 2
    from scenesem_otio.core.config import CutOptions, RuntimeOptions
    from scenesem_otio.pipeline import cut

    result = cut(videos[2], CutOptions(runtime=RuntimeOptions(model=str(tmp_path / "b")),
                                       progress=False))
    assert result.threshold_source == "checkpoint"
    assert result.threshold == pytest.approx(meta["threshold"])


def test_pseudo_label_refuses_a_missing_video(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["pseudo-label", str(tmp_path / "nope.mp4"), "-o",
                                       str(tmp_path / "o")])
    assert result.exit_code != 0 and "no such video file" in result.output
    assert "Traceback" not in result.output


def test_validation_films_have_cuts_and_leave_one_to_train() -> None:
    """By hand: the last fifth of the films with a pseudo cut, never a one-scene film (θ would
    calibrate to 1 and cut nothing), never every film with a cut."""
    assert validation_films([3, 4, 5, 6, 7]) == {4}
    assert validation_films([3, 4, 5, 6, 1]) == {3}  # the last film has no cut
    assert validation_films([5, 1]) == set()  # one film with cuts: it trains, no calibration
    assert validation_films([1, 1, 1]) == set()
    assert validation_films([2, 2]) == {1}
    assert validation_films([4] * 10) == {8, 9}
    assert validation_films([4]) == set()
