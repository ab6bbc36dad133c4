"""segment.py on hand-made embedding sequences: the maths of SPEC §2.6–2.8."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scenesem_otio.core.config import SegmentOptions
from scenesem_otio.core.scenes import shots_from_cuts
from scenesem_otio.core.vectors import shot_embeddings
from scenesem_otio.segment.decide import (
    boundary_scores,
    build_scenes,
    default_threshold,
    distance_matrix,
    grouping_score,
    nearest_earlier,
    optimal_grouping,
    pick_boundaries,
    segment,
)


def blocks(sizes: list[int], dim: int = 8, noise: float = 0.05, seed: int = 0,
           places: list[int] | None = None) -> np.ndarray:
    """Shot embeddings: each block of shots sits near its own random direction."""
    rng = np.random.default_rng(seed)
    places = places or list(range(len(sizes)))
    centres = rng.normal(size=(max(places) + 1, dim))
    rows = [centres[p] + noise * rng.normal(size=dim) for p, n in zip(places, sizes)
            for _ in range(n)]
    v = np.asarray(rows)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_shot_embedding_is_normalised_mean_of_clips() -> None:
    clips = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
    shots = shot_embeddings(clips, [0, 0, 1], 2)
    np.testing.assert_allclose(shots[0], [2 ** -0.5, 2 ** -0.5])
    np.testing.assert_allclose(shots[1], [0.6, 0.8])


def test_boundary_score_formula_window_2() -> None:
    v = blocks([3, 3])
    b = boundary_scores(v, window=2)
    assert b.shape == (5,)
    k = 2
    left = v[1:3].mean(0)
    right = v[3:5].mean(0)
    cos = left @ right / np.linalg.norm(left) / np.linalg.norm(right)
    assert b[k] == pytest.approx((1 - cos) / 2)
    # Window clipped at the film's ends: boundary 0 compares shot 0 with shots 1-2.
    left, right = v[0], v[1:3].mean(0)
    assert b[0] == pytest.approx((1 - left @ right / np.linalg.norm(right)) / 2)
    assert np.all((b >= 0) & (b <= 1))
    assert int(np.argmax(b)) == 2


def test_identical_and_opposite_shots_score_0_and_1() -> None:
    e = np.array([[1.0, 0.0]] * 3 + [[-1.0, 0.0]] * 3)
    b = boundary_scores(e, window=1)
    np.testing.assert_allclose(b, [0, 0, 1, 0, 0], atol=1e-12)


def test_known_boundaries_found() -> None:
    sizes = [4, 5, 3, 6]
    v = blocks(sizes)
    shots = shots_from_cuts(list(np.cumsum([10] * (sum(sizes) - 1))), sum(sizes) * 10)
    scenes, scores, theta, *_ = segment(shots, v, 10.0, SegmentOptions(min_scene_s=0))
    assert [s.first_shot for s in scenes] == [0, 4, 9, 12]
    assert theta == pytest.approx(np.percentile(scores, 80))
    # Scenes tile the film: contiguous, first starts at 0, last ends at the end.
    assert scenes[0].start == 0 and scenes[-1].end == shots[-1].end
    assert all(a.end == b.start for a, b in itertools.pairwise(scenes))


def test_threshold_local_max_and_min_scene() -> None:
    scores = np.array([0.1, 0.9, 0.8, 0.1, 0.1, 0.7, 0.1])
    starts = [0, 10, 20, 30, 40, 50, 60, 70]  # seconds; 8 shots, 80 s
    # 0.8 at k=2 is not a local maximum (0.9 beside it).
    assert pick_boundaries(scores, starts, 80, threshold=0.5, min_scene_s=0) == [1, 5]
    # θ above 0.7 drops k=5.
    assert pick_boundaries(scores, starts, 80, threshold=0.75, min_scene_s=0) == [1]
    # radius 0: every score ≥ θ is a cut.
    assert pick_boundaries(scores, starts, 80, threshold=0.5, radius=0, min_scene_s=0) == [1, 2, 5]
    # min_scene 25 s in a 100 s film: the cut at 20 s (k=1) would leave a 20 s first scene.
    assert pick_boundaries(scores, starts, 100, threshold=0.5, min_scene_s=25) == [5]
    # min scene resolves conflicts strongest first.
    s2 = np.array([0.1, 0.1, 0.8, 0.1, 0.9, 0.1, 0.1])  # cuts at 30 s and 50 s
    assert pick_boundaries(s2, starts, 80, threshold=0.5, min_scene_s=20) == [2, 4]
    assert pick_boundaries(s2, starts, 80, threshold=0.5, min_scene_s=25) == [4]


def test_default_threshold_is_80th_percentile() -> None:
    s = np.linspace(0, 1, 11)
    assert default_threshold(s) == pytest.approx(0.8)


def brute_force(v: np.ndarray, n: int) -> tuple[float, list[int]]:
    best = (-np.inf, [])
    for cut in itertools.combinations(range(1, len(v)), n - 1):
        starts = [0, *cut]
        score = grouping_score(v, starts)
        if score > best[0] + 1e-12:
            best = (score, starts)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_osg_exact_n_and_optimal_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(9, 4))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    for n in range(1, 10):
        starts = optimal_grouping(v, n)
        assert len(starts) == n and starts[0] == 0 and starts == sorted(set(starts))
        best_score, _ = brute_force(v, n)
        assert grouping_score(v, starts) == pytest.approx(best_score, abs=1e-9)


def test_osg_recovers_blocks() -> None:
    v = blocks([3, 4, 2, 5], noise=0.1, seed=3)
    assert optimal_grouping(v, 4) == [0, 3, 7, 9]


def test_osg_rejects_impossible_n() -> None:
    with pytest.raises(ValueError, match="cannot make 5 scenes from 3 shots"):
        optimal_grouping(np.eye(3), 5)


def test_distance_matrix_and_nearest_earlier_finds_a_return() -> None:
    # Scenes at places A B C A: scene 3 returns to scene 0.
    v = blocks([2, 2, 2, 2], places=[0, 1, 2, 0], noise=0.01)
    shots = shots_from_cuts([10, 20, 30, 40, 50, 60, 70], 80)
    scenes = build_scenes(shots, v, [0, 2, 4, 6])
    s = np.asarray([sc.embedding for sc in scenes])
    d = distance_matrix(s)
    np.testing.assert_allclose(np.diag(d), 0, atol=1e-12)
    np.testing.assert_allclose(d, d.T)
    assert ((d >= 0) & (d <= 1)).all()
    assert scenes[3].nearest[0][0] == 0
    assert scenes[3].distance_prev == pytest.approx(d[3, 2])
    assert nearest_earlier(d, 1) == []  # only the previous scene precedes it
    assert scenes[0].distance_prev is None and scenes[0].boundary_score is None
