"""`--scenes auto` (scene_count.py): the count chosen from the film, checked against brute force
on hand-made embeddings, then end to end on a rendered film (issue 25)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from click.testing import CliRunner
from test_segment import blocks

from scenesem_otio.core.config import SegmentOptions
from scenesem_otio.core.scenes import shots_from_cuts
from scenesem_otio.segment.count import (
    choose_scene_count,
    film_centred,
    groupings,
    min_length_mask,
    segment_gains,
    sequential_silhouette,
)
from scenesem_otio.segment.decide import optimal_grouping, segment


def partitions(n: int, n_scenes: int) -> list[list[int]]:
    """Every way to cut n items into n_scenes runs: the first item of each."""
    return [[0, *c] for c in itertools.combinations(range(1, n), n_scenes - 1)]


def total(gain: np.ndarray, starts: list[int]) -> float:
    bounds = [*starts, len(gain) - 1]
    return float(sum(gain[a, b] for a, b in itertools.pairwise(bounds)))


def test_one_programme_gives_the_optimal_grouping_of_every_n() -> None:
    v = film_centred(blocks([2, 3, 1, 2], noise=0.4, seed=3))
    gain = segment_gains(v)
    found = groupings(gain, len(v))
    for n_scenes, starts in enumerate(found, start=1):
        best = max(total(gain, p) for p in partitions(len(v), n_scenes))
        assert starts is not None and total(gain, starts) == pytest.approx(best)
        assert starts == optimal_grouping(v, n_scenes)


def test_minimum_length_is_respected_and_infeasible_counts_are_none() -> None:
    v = film_centred(blocks([3, 3, 2], noise=0.3, seed=1))
    starts_s = [0, 2, 3, 5, 6, 7, 8, 11]  # shot starts, film ends at 12 s
    allowed = min_length_mask(starts_s, 12.0, 4.0)
    found = groupings(segment_gains(v, allowed), 4)
    edges = [*starts_s, 12.0]
    for n_scenes, starts in enumerate(found, start=1):
        feasible = [p for p in partitions(len(v), n_scenes)
                    if all(edges[b] - edges[a] >= 4.0
                           for a, b in itertools.pairwise([*p, len(v)]))]
        if not feasible:
            assert starts is None
            continue
        gain = segment_gains(v, allowed)
        assert starts is not None
        assert total(gain, starts) == pytest.approx(max(total(gain, p) for p in feasible))
    assert found[3] is None  # 12 s cannot hold four scenes of 4 s with these shots


def test_sequential_silhouette_matches_the_definition() -> None:
    v = film_centred(blocks([3, 1, 4, 2], noise=0.5, seed=2))
    starts = [0, 3, 4, 8]
    dist = 1.0 - v @ v.T
    label = np.repeat(np.arange(4), np.diff([*starts, len(v)]))
    values = []
    for i in range(len(v)):
        mine = [j for j in range(len(v)) if label[j] == label[i] and j != i]
        if not mine:
            values.append(0.0)  # alone in its scene
            continue
        a = np.mean(dist[i, mine])
        b = min(np.mean(dist[i, label == s]) for s in (label[i] - 1, label[i] + 1)
                if 0 <= s < 4)
        values.append((b - a) / max(a, b))
    assert sequential_silhouette(v, starts) == pytest.approx(np.mean(values))
    with pytest.raises(ValueError, match="two scenes"):
        sequential_silhouette(v, [0])


@pytest.mark.parametrize(("sizes", "places"), [
    ([4, 5, 3, 6], None),  # four places
    ([3, 2, 4, 3, 2, 5], [0, 1, 0, 1, 0, 1]),  # two places that keep coming back
    ([1, 6, 1, 5], [0, 1, 2, 1]),  # one-shot scenes; a place returns
    ([12, 14], None),  # two long scenes
])
def test_clear_structure_is_found_with_its_count(sizes: list[int],
                                                 places: list[int] | None) -> None:
    v = blocks(sizes, dim=16, noise=0.2, places=places, seed=4)
    count = choose_scene_count(v)
    truth = [0, *np.cumsum(sizes)[:-1].tolist()]
    assert count.n == len(sizes) and count.starts == truth
    assert count.starts == optimal_grouping(film_centred(v), count.n)  # what --scenes N does
    assert max(count.curve, key=count.curve.get) == count.n and count.margin > 0
    assert set(count.curve) == set(range(2, max(count.curve) + 1))
    meta = count.as_meta()
    assert meta["chosen"] == len(sizes) and meta["curve"][str(count.n)] == meta["peak"]


def test_too_few_shots_is_one_scene() -> None:
    assert choose_scene_count(blocks([2])).n == 1
    assert choose_scene_count(blocks([1])).starts == [0]


def test_segment_auto_and_the_minimum_scene() -> None:
    sizes = [4, 5, 3, 6]
    v = blocks(sizes, dim=16, noise=0.2, seed=4)
    shots = shots_from_cuts(list(np.cumsum([10] * (sum(sizes) - 1))), sum(sizes) * 10)
    scenes, scores, _, _, count = segment(shots, v, 10.0, SegmentOptions(n_scenes="auto"))
    assert [s.first_shot for s in scenes] == [0, 4, 9, 12] and len(scores) == len(shots) - 1
    assert count is not None and count.n == 4 and count.starts == [0, 4, 9, 12]
    # Every scene at least 4 s (4 shots of 1 s): the 3-shot scene cannot stand alone.
    scenes, *_ = segment(shots, v, 10.0, SegmentOptions(n_scenes="auto", min_scene_s=4.0))
    lengths = np.diff([*(s.first_shot for s in scenes), len(shots)])
    assert lengths.min() >= 4 and len(scenes) < 4


def test_cut_default_chooses_the_count_and_records_the_curve(
        scene_film: tuple[Path, list[int], list[int]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No checkpoint, no --scenes: the embedded model's shots, N from the film, the choice and
    its criterion curve in metadata["scenesem"]. On this 9-shot synthetic film (3 places, each
    shot a new framing and tint of its place) the curve peaks at 4 by 0.02 over 3: both true
    scene cuts are kept, one scene is split."""
    from scenesem_otio.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    video, _, scene_cuts = scene_film
    out = tmp_path / "film.otio"
    result = CliRunner().invoke(main, ["cut", str(video), "-o", str(out), "--model",
                                       "embedded", "--no-progress"])
    assert result.exit_code == 0, result.output
    timeline = otio.adapters.read_from_file(str(out))
    meta = timeline.metadata["scenesem"]
    assert meta["scene_count_from"] == "the film (--scenes auto)"
    count = meta["scene_count"]
    starts = [round(c.source_range.start_time.value) for c in timeline.find_clips()]
    assert count["chosen"] == len(starts) and "silhouette" in count["criterion"]
    assert f"N = {len(starts)} chosen from the film" in result.output
    assert max(count["curve"], key=lambda k: count["curve"][k]) == str(len(starts))
    assert set(count["curve"]) == {str(n) for n in range(2, 7)}  # N ≤ 9 shots / 1.5
    assert count["min_scene_s"] == 0 and meta["min_scene_s"] == 0  # none imposed
    assert set(scene_cuts) <= set(starts) and len(starts) <= 4


def test_min_scene_bounds_scenes_chosen_by_count() -> None:
    """Two scenes of five 2 s shots; in the first, an insert of two 0.4 s shots unlike
    anything around them. By default the insert is a scene (auto and N = 4 cut it out: the
    count imposes no minimum); with --min-scene 1 it stays in its scene, for a known N too
    (before, OSG for --scenes N ignored the minimum that the timeline reported)."""
    rng = np.random.default_rng(5)
    a, b, odd = rng.normal(size=(3, 24))
    v = np.stack([a] * 2 + [odd] * 2 + [a] * 3 + [b] * 5) + 0.15 * rng.normal(size=(12, 24))
    lengths = [2.0, 2.0, 0.4, 0.4, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    starts_s = np.concatenate([[0.0], np.cumsum(lengths[:-1])])
    fps = 10.0
    shots = shots_from_cuts([round(t * fps) for t in starts_s[1:]], round(sum(lengths) * fps))
    free = segment(shots, v, fps, SegmentOptions(n_scenes="auto"))
    assert [s.first_shot for s in free.scenes] == [0, 2, 4, 7] and free.min_scene_s == 0.0
    done = segment(shots, v, fps, SegmentOptions(n_scenes="auto", min_scene_s=1.0))
    assert [s.first_shot for s in done.scenes] == [0, 7]
    assert done.min_scene_s == pytest.approx(1.0) and done.scene_count is not None
    assert done.scene_count.min_scene_s == pytest.approx(1.0)
    four = SegmentOptions(n_scenes=4)
    unbounded = segment(shots, v, fps, four).scenes
    assert [s.first_shot for s in unbounded] == [0, 2, 4, 7]
    bounded = segment(shots, v, fps, replace(four, min_scene_s=1.0)).scenes
    assert len(bounded) == 4 and min((s.end - s.start) / fps for s in bounded) >= 1.0


def test_long_films_show_the_count_searching(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A film of PROGRESS_MIN_SHOTS shots or more shows the counts tried (as JSON lines here,
    as a program reading stderr gets them), ending complete when the search stops early; a
    short film, or progress off, prints nothing. The choice does not depend on the bar."""
    import json

    from scenesem_otio.core.progress import set_progress_style
    from scenesem_otio.segment.count import PROGRESS_MIN_SHOTS

    long_film = blocks([PROGRESS_MIN_SHOTS // 25] * 25, noise=0.3, seed=5)
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)  # JSON style sets it
    set_progress_style("json")
    try:
        shown = choose_scene_count(long_film, progress=True)
        lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
        quiet = choose_scene_count(long_film)
        choose_scene_count(long_film[:100], progress=True)
        assert capsys.readouterr().err == ""
    finally:
        set_progress_style("bar")
    assert {x["task"] for x in lines} == {"choosing the number of scenes"}
    assert lines[0]["done"] == 0 and lines[-1]["done"] == lines[-1]["total"] > shown.n
    assert (shown.n, shown.starts) == (quiet.n, quiet.starts) and shown.n == 25
