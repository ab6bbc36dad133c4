"""Boundary model, its training, θ/min-scene calibration and N-scene decoding (issue 15)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from scenesem_otio.core.errors import CheckpointError, DataError
from scenesem_otio.evaluate.metrics import boundary_prf
from scenesem_otio.segment.calibrate import ScoredFilm, fit_decoding, min_scene_grid
from scenesem_otio.segment.decide import decode_n_scenes, logit, pick_boundaries
from scenesem_otio.train.boundary import (
    FilmShots,
    starts_from_frame_labels,
    train_boundary_model,
    transition_labels,
)

torch = pytest.importorskip("torch")


def toy_film(seed: int, n_scenes: int = 6, dim: int = 16, noise: float = 0.3) -> FilmShots:
    """Scenes of 2–5 shots; a scene's shots scatter around its own random direction, which is
    orthogonal to the previous scene's (separable: cos ≈ 0.9 inside a scene, ≈ 0 across)."""
    rng = np.random.default_rng(seed)
    rows, labels, starts, t = [], [], [], 0.0
    centre = np.zeros(dim)
    for s in range(n_scenes):
        new = rng.normal(size=dim)
        new -= (new @ centre) * centre
        centre = new / np.linalg.norm(new)
        for k in range(int(rng.integers(2, 6))):
            rows.append(centre + noise * rng.normal(size=dim) / np.sqrt(dim))
            starts.append(t)
            t += float(rng.uniform(1.0, 3.0))
            if rows[1:]:
                labels.append(1.0 if k == 0 and s > 0 else 0.0)
    return FilmShots(np.asarray(rows), np.asarray(labels), np.asarray(starts), t,
                     name=f"toy{seed}")


def f1_of(model, films: list[FilmShots]) -> float:
    hits = n_pred = n_truth = 0
    for f in films:
        p = model.predict(f.emb, f.shot_starts_s, f.duration_s)
        cuts = pick_boundaries(p, f.shot_starts_s, f.duration_s, 0.5, 1, 0.0)
        truth = [float(f.shot_starts_s[k + 1]) for k in np.flatnonzero(f.labels)]
        m = boundary_prf([float(f.shot_starts_s[k + 1]) for k in cuts], truth, 0.1)
        hits, n_pred, n_truth = hits + m["hits"], n_pred + m["n_pred"], n_truth + m["n_truth"]
    return 2 * hits / (n_pred + n_truth)


@pytest.fixture(scope="module")
def toy_model():
    train = [toy_film(i) for i in range(8)]
    config = {"hidden": 16, "layers": 1, "heads": 2}
    model, stats = train_boundary_model(train, window=4, steps=40, lr=5e-3, seed=0,
                                        config=config)
    return model, stats, train, config


def test_learns_separable_toy_case_to_f1_1(toy_model) -> None:
    model, stats, _, _ = toy_model
    held_out = [toy_film(100 + i) for i in range(6)]
    assert f1_of(model, held_out) == 1.0
    assert stats["loss_last10"] < stats["loss_first10"]


def test_untrained_model_does_not_already_solve_it(toy_model) -> None:
    """The toy case is not free: the same network before training misses boundaries."""
    from scenesem_otio.model.boundary import BoundaryModel

    _, _, _, config = toy_model
    torch.manual_seed(1)
    fresh = BoundaryModel(**config, emb_dim=16, window=4).eval()
    assert f1_of(fresh, [toy_film(100 + i) for i in range(4)]) < 0.9


def test_training_is_deterministic_for_a_seed() -> None:
    films = [toy_film(i) for i in range(3)]
    kwargs = {"window": 3, "steps": 5, "config": {"hidden": 16, "layers": 1, "heads": 2}}
    state_before = torch.random.get_rng_state()
    a, _ = train_boundary_model(films, seed=3, **kwargs)
    assert torch.equal(torch.random.get_rng_state(), state_before)
    b, _ = train_boundary_model(films, seed=3, **kwargs)
    c, _ = train_boundary_model(films, seed=4, **kwargs)
    f = films[0]
    pa, pb, pc = (m.predict(f.emb, f.shot_starts_s, f.duration_s) for m in (a, b, c))
    np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(pa, pc)


def test_config_and_state_round_trip(toy_model, tmp_path) -> None:
    import json

    from scenesem_otio.model.boundary import (
        BoundaryModel,
        load_boundary_model,
        read_boundary_extra,
        write_boundary_files,
    )

    model, _, train, _ = toy_model
    f = train[0]
    expected = model.predict(f.emb, f.shot_starts_s, f.duration_s)
    assert expected.shape == (len(f.emb) - 1,)
    # In memory: JSON config + state dict.
    config = json.loads(json.dumps(model.config))
    twin = BoundaryModel.from_config(config)
    twin.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(twin.predict(f.emb, f.shot_starts_s, f.duration_s), expected)
    # On disk, as a checkpoint carries it.
    assert load_boundary_model(tmp_path) is None  # a checkpoint without one
    write_boundary_files(model, tmp_path, extra={"threshold": 0.4, "min_scene_s": 2.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boundary.json",
                                                          "boundary.safetensors"]
    loaded = load_boundary_model(tmp_path)
    np.testing.assert_array_equal(loaded.predict(f.emb, f.shot_starts_s, f.duration_s),
                                  expected)
    assert read_boundary_extra(tmp_path) == {"threshold": 0.4, "min_scene_s": 2.0}
    # A model stored before shot colours were read has no colour_dim: it reads none.
    stored = json.loads((tmp_path / "boundary.json").read_text())
    del stored["config"]["colour_dim"]
    (tmp_path / "boundary.json").write_text(json.dumps(stored))
    older = load_boundary_model(tmp_path)
    np.testing.assert_array_equal(older.predict(f.emb, f.shot_starts_s, f.duration_s,
                                                np.ones((len(f.emb), 64))), expected)


def test_bad_boundary_files_are_one_line_errors(toy_model, tmp_path) -> None:
    from scenesem_otio.model.boundary import load_boundary_model, write_boundary_files

    model, _, _, _ = toy_model
    write_boundary_files(model, tmp_path)
    (tmp_path / "boundary.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match=r"boundary\.safetensors"):
        load_boundary_model(tmp_path)
    (tmp_path / "boundary.json").write_text("{")
    with pytest.raises(CheckpointError, match=r"boundary\.json"):
        load_boundary_model(tmp_path)


def test_predict_edge_cases(toy_model) -> None:
    model, _, _, _ = toy_model
    assert model.predict(np.zeros((1, 16)), [0.0], 3.0).shape == (0,)
    p = model.predict(np.eye(16)[:2], [0.0, 1.0], 2.0)  # fewer shots than the window
    assert p.shape == (1,) and 0 < p[0] < 1
    with pytest.raises(ValueError, match="16"):
        model.predict(np.zeros((3, 8)), [0, 1, 2], 3.0)


def test_training_refuses_films_without_both_classes() -> None:
    f = toy_film(0)
    with pytest.raises(DataError, match="scene cuts"):
        train_boundary_model([FilmShots(f.emb, np.zeros_like(f.labels), f.shot_starts_s,
                                        f.duration_s)], steps=1)
    with pytest.raises(DataError, match="n − 1 labels"):
        FilmShots(f.emb, f.labels[:-1], f.shot_starts_s, f.duration_s)


# ---------------------------------------------------------------- labels


def test_transition_labels_nearest_within_tolerance_one_to_one() -> None:
    shots = [0.0, 2.0, 4.0, 4.3, 9.0, 12.0]  # cuts at 2, 4, 4.3, 9, 12
    labels = transition_labels([0.0, 4.2, 4.4, 10.0, 12.4], shots, tolerance=0.5)
    # 4.2 and 4.4 both near 4 and 4.3: closest pairs first (4.3↔4.4, then 4.2↔4.0);
    # 10.0 has no shot cut within 0.5 s; 12.4 lands on 12.
    np.testing.assert_array_equal(labels, [0, 1, 1, 0, 1])


def test_frame_labels_reduce_to_scene_starts() -> None:
    frames = ["a"] * 50 + ["b"] * 30 + ["a"] * 20
    starts = starts_from_frame_labels(frames, 25)
    assert starts == [0.0, 2.0, 3.2]
    np.testing.assert_array_equal(transition_labels(starts, [0.0, 1.0, 2.04, 3.2]), [0, 1, 1])


# ---------------------------------------------------------------- calibration


def random_case(rng: np.random.Generator, n_films: int) -> list[ScoredFilm]:
    films = []
    for _ in range(n_films):
        n = int(rng.integers(3, 10))
        starts = np.cumsum(np.r_[0.0, rng.uniform(0.5, 4.0, n - 1)])
        duration = float(starts[-1] + rng.uniform(0.5, 4.0))
        # Scores on a coarse grid so that ties (plateaus, equal neighbours) happen too.
        scores = np.round(rng.random(n - 1), 1)
        truth = sorted(float(starts[k + 1]) + rng.uniform(-0.6, 0.6)
                       for k in np.flatnonzero(rng.random(n - 1) < 0.4))
        films.append(ScoredFilm(scores, list(starts), duration, truth))
    return films


def brute_f1(films: list[ScoredFilm], theta: float, ms: float) -> float:
    """The plain loop: decode every film as `cut` does, pool the matches."""
    hits = n_pred = n_truth = 0
    for f in films:
        cuts = pick_boundaries(f.scores, f.shot_starts_s, f.duration_s, theta, 1, ms)
        m = boundary_prf([f.shot_starts_s[k + 1] for k in cuts], list(f.truth_s), 0.5)
        hits, n_pred, n_truth = hits + m["hits"], n_pred + m["n_pred"], n_truth + m["n_truth"]
    p = hits / n_pred if n_pred else (1.0 if not n_truth else 0.0)
    r = hits / n_truth if n_truth else (1.0 if not n_pred else 0.0)
    return 2 * p * r / (p + r) if p + r else 0.0


@pytest.mark.parametrize("seed", range(40))
def test_calibration_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    films = random_case(rng, int(rng.integers(1, 4)))
    grid = [0.0, 1.0, 2.5, 4.0]
    best = max(brute_f1(films, float(t), ms) for ms in grid
               for t in {float(x) for f in films for x in f.scores})
    got = fit_decoding(films, grid)
    assert got.f1 == pytest.approx(best, abs=1e-12)
    # The θ and min scene it returns really score that F1 when decoded as `cut` does.
    assert brute_f1(films, got.threshold, got.min_scene_s) == pytest.approx(best, abs=1e-12)
    assert got.min_scene_s in grid


def test_calibration_puts_theta_between_scores_and_prefers_wide_margins() -> None:
    # One film, cuts at 10, 20, 30 s; truth at 10 and 30. Scores: truth 0.9/0.8, false 0.2.
    film = ScoredFilm(np.array([0.1, 0.9, 0.1, 0.2, 0.1, 0.8, 0.1]),
                      [0, 5, 10, 15, 20, 25, 30, 35], 40.0, [10.0, 30.0])
    got = fit_decoding([film], [0.0])
    assert got.f1 == 1.0
    assert got.threshold == pytest.approx(0.5)  # half-way between 0.2 and 0.8
    # A min scene that swallows a true scene costs F1 and is not chosen.
    assert fit_decoding([film], [0.0, 25.0]).min_scene_s == 0.0


def test_min_scene_grid_follows_the_data() -> None:
    grid = min_scene_grid([3.0, 4.0, 5.0, 20.0, 30.0], steps=4)
    assert grid[0] == 0.0 and grid[-1] == pytest.approx(3.4)  # 10th percentile of lengths
    assert max(min_scene_grid([100.0] * 5)) == 8.0


# ---------------------------------------------------------------- exactly N scenes


def brute_n(probs: np.ndarray, n_scenes: int, starts: list[float], duration: float,
            ms: float) -> float:
    gain = logit(probs)
    edges = [*starts, duration]
    best = -np.inf
    for cuts in itertools.combinations(range(len(probs)), n_scenes - 1):
        firsts = [0, *(k + 1 for k in cuts)]
        bounds = [*firsts, len(starts)]
        if all(edges[b] - edges[a] >= ms - 1e-9 for a, b in itertools.pairwise(bounds)):
            best = max(best, float(sum(gain[k] for k in cuts)))
    return best


@pytest.mark.parametrize("seed", range(30))
def test_n_scene_dp_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 11))
    probs = rng.random(n - 1)
    starts = list(np.cumsum(np.r_[0.0, rng.uniform(0.5, 3.0, n - 1)]))
    duration = starts[-1] + 1.0
    n_scenes = int(rng.integers(1, n + 1))
    ms = float(rng.choice([0.0, 2.0, 4.0]))
    firsts = decode_n_scenes(probs, n_scenes, starts, duration, ms)
    assert len(firsts) == n_scenes and firsts[0] == 0 and firsts == sorted(set(firsts))
    got = float(sum(logit(probs)[k - 1] for k in firsts[1:]))
    want = brute_n(probs, n_scenes, starts, duration, ms)
    if np.isfinite(want):
        assert got == pytest.approx(want)
    else:  # no N scenes can all be that long: the limit is dropped
        assert got == pytest.approx(brute_n(probs, n_scenes, starts, duration, 0.0))


def test_n_scene_dp_without_lengths_is_top_n_minus_1() -> None:
    probs = np.array([0.1, 0.95, 0.3, 0.99, 0.2, 0.6])
    assert decode_n_scenes(probs, 3) == [0, 2, 4]
    assert decode_n_scenes(probs, 1) == [0]
    with pytest.raises(ValueError, match="8 scenes from 7 shots"):
        decode_n_scenes(probs, 8)


def test_ensemble_is_the_mean_of_its_members_and_round_trips(tmp_path) -> None:
    from scenesem_otio.model.boundary import (
        BoundaryEnsemble,
        load_boundary_model,
        write_boundary_files,
    )
    from scenesem_otio.train.boundary import train_boundary_models

    films = [toy_film(i) for i in range(4)]
    kwargs = {"window": 3, "steps": 5, "config": {"hidden": 16, "layers": 1, "heads": 2}}
    single, _ = train_boundary_models(films, members=1, seed=2, **kwargs)
    alone, _ = train_boundary_model(films, seed=2, **kwargs)
    f = films[0]
    np.testing.assert_array_equal(single.predict(f.emb, f.shot_starts_s, f.duration_s),
                                  alone.predict(f.emb, f.shot_starts_s, f.duration_s))
    ensemble, stats = train_boundary_models(films, members=3, seed=2, **kwargs)
    assert isinstance(ensemble, BoundaryEnsemble) and stats["members"] == 3
    assert len(set(stats["member_seeds"])) == 3
    each = [m.predict(f.emb, f.shot_starts_s, f.duration_s) for m in ensemble.members]
    assert not np.array_equal(each[0], each[1])  # different seeds, different judges
    expected = ensemble.predict(f.emb, f.shot_starts_s, f.duration_s)
    np.testing.assert_allclose(expected, np.mean(each, axis=0))
    write_boundary_files(ensemble, tmp_path, extra={"threshold": 0.5})
    loaded = load_boundary_model(tmp_path)
    assert isinstance(loaded, BoundaryEnsemble) and len(loaded.members) == 3
    np.testing.assert_array_equal(loaded.predict(f.emb, f.shot_starts_s, f.duration_s),
                                  expected)


def test_standardised_cosines_ignore_how_far_apart_a_film_is_pushed() -> None:
    """Pulling every cosine towards 1 (a head that separates this film less) leaves the
    standardised features, and so the prediction, unchanged."""
    from scenesem_otio.model.boundary import BoundaryModel

    f = toy_film(5, noise=0.5)
    emb = torch.nn.functional.normalize(torch.from_numpy(f.emb).double(), dim=-1)
    sims = emb @ emb.T
    n = len(sims)

    def with_gram(gram: torch.Tensor) -> np.ndarray:  # shots whose cosines are `gram`
        return torch.linalg.cholesky(gram + 1e-6 * torch.eye(n, dtype=gram.dtype)).numpy()

    torch.manual_seed(0)
    model = BoundaryModel(emb_dim=n, window=3, hidden=16, layers=1, heads=2,
                          standardise=True, use_raw=False, cos_windows=[1]).eval()
    squeezed = 1.0 - 0.4 * (1.0 - sims)  # every cosine 60 % of the way to 1 (still a Gram)
    a = model.predict(with_gram(sims), f.shot_starts_s, f.duration_s)
    b = model.predict(with_gram(squeezed), f.shot_starts_s, f.duration_s)
    np.testing.assert_allclose(a, b, atol=1e-3)
    plain = BoundaryModel(emb_dim=n, window=3, hidden=16, layers=1, heads=2,
                          use_raw=False, cos_windows=[1]).eval()
    assert not np.allclose(plain.predict(with_gram(sims), f.shot_starts_s, f.duration_s),
                           plain.predict(with_gram(squeezed), f.shot_starts_s, f.duration_s),
                           atol=1e-3)


# ---------------------------------------------------------------- shot colours


def test_colour_histogram_counts_pixels_per_rgb_bin() -> None:
    from scenesem_otio.media.colour import COLOUR_DIM, colour_histogram

    frames = np.zeros((2, 2, 2, 3), np.uint8)  # 8 pixels
    frames[0, 0, 0] = (255, 0, 0)  # bin (3, 0, 0) = 48
    frames[1, 1, 1] = (64, 128, 191)  # bin (1, 2, 2) = 16 + 8 + 2 = 26
    h = colour_histogram(frames)
    assert h.shape == (COLOUR_DIM,) and h.dtype == np.float32
    assert h[0] == 6 / 8 and h[48] == 1 / 8 and h[26] == 1 / 8 and h.sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="uint8 RGB"):
        colour_histogram(frames.astype(np.float32))
    white = np.full((4, 4, 3), 255, np.uint8)  # the last bin at every size, no overflow
    for bins in (1, 2, 4, 8, 16):
        assert colour_histogram(white, bins)[bins**3 - 1] == 1.0
    with pytest.raises(ValueError, match="1 to 16"):
        colour_histogram(white, 17)


def test_boundary_inputs_average_the_embedding_and_colour_cosines() -> None:
    from scenesem_otio.model.boundary import boundary_inputs

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(3, 8))
    hist = rng.random((3, 64))
    x = boundary_inputs(emb, hist, 64)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    root = np.sqrt(hist) / np.linalg.norm(np.sqrt(hist), axis=1, keepdims=True)
    joined = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(joined @ joined.T, (unit @ unit.T + root @ root.T) / 2,
                               atol=1e-5)
    np.testing.assert_allclose(boundary_inputs(emb, None, 0), unit, atol=1e-6)
    with pytest.raises(ValueError, match="reads shot colours"):
        boundary_inputs(emb, None, 64)
    with pytest.raises(ValueError, match=r"\[3, 64\]"):
        boundary_inputs(emb, hist[:, :10], 64)


def test_boundary_model_learns_cuts_that_only_the_colours_show() -> None:
    """Embeddings that say nothing (one scene's shots as unlike as any two), colours that say
    it all: with colour the model finds every cut, without it cannot."""
    from scenesem_otio.model.boundary import boundary_inputs

    def films(seeds: range) -> list[tuple[FilmShots, np.ndarray]]:
        out = []
        for seed in seeds:
            f = toy_film(seed)
            rng = np.random.default_rng(100 + seed)
            # Each scene's palette: 4 bins of the 64, none shared with the previous scene's.
            scene = np.concatenate([[0], np.cumsum(f.labels)]).astype(int)
            palettes, used = [], set()
            for _ in range(scene[-1] + 1):
                bins = rng.choice(sorted(set(range(64)) - used), 4, replace=False)
                used = set(bins.tolist())
                palettes.append(bins)
            colours = rng.random((len(f.emb), 64)) * 0.002
            for i, s in enumerate(scene):
                colours[i, palettes[s]] += rng.uniform(0.5, 1.0, 4)
            out.append((FilmShots(rng.normal(size=(len(f.emb), 16)), f.labels,
                                  f.shot_starts_s, f.duration_s), colours))
        return out

    train, test = films(range(12)), films(range(50, 54))
    with_colour, _ = train_boundary_model(
        [FilmShots(boundary_inputs(f.emb, c, 64), f.labels, f.shot_starts_s, f.duration_s)
         for f, c in train], steps=150, config={"colour_dim": 64})
    blind, _ = train_boundary_model([f for f, _ in train], steps=150)

    def f1(model, colour: bool) -> float:
        hits = n_pred = n_truth = 0
        for f, c in test:
            p = model.predict(f.emb, f.shot_starts_s, f.duration_s, c if colour else None)
            cuts = pick_boundaries(p, f.shot_starts_s, f.duration_s, 0.5, 1, 0.0)
            truth = [float(f.shot_starts_s[k + 1]) for k in np.flatnonzero(f.labels)]
            m = boundary_prf([float(f.shot_starts_s[k + 1]) for k in cuts], truth, 0.1)
            hits, n_pred = hits + m["hits"], n_pred + m["n_pred"]
            n_truth += m["n_truth"]
        return 2 * hits / (n_pred + n_truth)

    assert f1(with_colour, True) == 1.0
    assert f1(blind, False) < 0.8
    with pytest.raises(ValueError, match="reads shot colours"):
        with_colour.predict(test[0][0].emb, test[0][0].shot_starts_s, test[0][0].duration_s)
