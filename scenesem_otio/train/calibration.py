"""After the contrastive stage: calibration of the decoding and the boundary model (SPEC §2.7).

Each training and validation film is embedded once through the same path as `scenesem cut`
(`pipeline.embed_film`). On those shot embeddings a contextual boundary model is trained (the
second stage, on frozen embeddings), and θ with the minimum scene length is chosen on the
validation films for boundary F1, for the cosine rule and for the boundary model alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from scenesem_otio.core.config import SegmentOptions, ShotOptions
from scenesem_otio.model.meta import Calibration
from scenesem_otio.segment.calibrate import ScoredFilm, fit_decoding

if TYPE_CHECKING:
    from scenesem_otio.model.boundary import BoundaryEnsemble, BoundaryModel
    from scenesem_otio.model.embedder import SceneEmbedder
    from scenesem_otio.train.sources import VideoItem


@dataclass
class LabelledFilm:
    """A training/validation film: its shots embedded as `cut` embeds them (`embed.FilmEmbedding`)
    reduced to what fitting needs, and its true scene cuts."""

    shot_embeddings: np.ndarray  # [n_shots, E]
    shot_starts_s: list[float]  # [n_shots]
    duration_s: float
    truth_s: list[float]  # true scene cuts in seconds (film start excluded)
    shot_colours: np.ndarray | None = None  # [n_shots, 64] colour histograms (media.colour)


def shots_record(shots: ShotOptions = ShotOptions()) -> dict[str, Any]:
    """The shot detection the boundary model and θ were fitted on (kept in the checkpoint):
    they judge the transitions this detector finds, so a change of detector shows."""
    return {"detector": shots.detector, "threshold": shots.detector_threshold,
            "min_shot": shots.min_shot, "min_content": shots.min_content}


def embed_films(embedder: SceneEmbedder, items: Sequence[VideoItem], progress: bool = False,
                label_mode: str = "scene") -> list[LabelledFilm]:
    """Embed each film as `cut` would (its default shot detection); keep its shots and the
    truth from its edit (or its per-frame labels with `label_mode` "frame")."""
    from scenesem_otio.embed import embed_film
    from scenesem_otio.train.boundary import truth_starts_s

    films = []
    for item in items:
        film = embed_film(item.path, embedder, ShotOptions(), progress=progress)
        fr = float(film.info.fps)
        films.append(LabelledFilm(
            film.shot_embeddings, [s.start / fr for s in film.shots], film.info.duration_s,
            [t for t in truth_starts_s(item, label_mode) if t > 0], film.shot_colours))
    return films


def cosine_scored(films: Sequence[LabelledFilm]) -> list[ScoredFilm]:
    from scenesem_otio.segment.decide import boundary_scores

    return [ScoredFilm(boundary_scores(f.shot_embeddings, SegmentOptions.window),
                       f.shot_starts_s, f.duration_s, f.truth_s) for f in films]


def boundary_scored(model: BoundaryModel | BoundaryEnsemble, films: Sequence[LabelledFilm]
                    ) -> list[ScoredFilm]:
    """The films as a boundary model scores them (the twin of `cosine_scored`)."""
    return [ScoredFilm(model.predict(f.shot_embeddings, f.shot_starts_s, f.duration_s,
                                     f.shot_colours),
                       f.shot_starts_s, f.duration_s, f.truth_s) for f in films]


def calibration_of(films: Sequence[ScoredFilm], split: str,
                   min_scene_values: Sequence[float] | None = None) -> Calibration:
    """θ and minimum scene maximising pooled boundary F1 (±0.5 s) on `films`."""
    chosen = fit_decoding(films, min_scene_values)
    return Calibration(threshold=chosen.threshold, min_scene_s=chosen.min_scene_s,
                       f1=chosen.f1, split=split)


def boundary_stage(train: Sequence[LabelledFilm], val: Sequence[LabelledFilm], split: str,
                   seed: int, members: int, colour: bool = True, **train_kwargs: Any
                   ) -> tuple[BoundaryModel | BoundaryEnsemble, Calibration, dict[str, Any]]:
    """Train the contextual boundary model (`members` seeds averaged) on `train`, calibrate
    it on `val`. With `colour`, it reads the shots' colour histograms beside their embeddings
    (`model.boundary.boundary_inputs`). `train_kwargs` go to `train_boundary_model`
    (benchmarks try variants)."""
    from scenesem_otio.media.colour import COLOUR_DIM
    from scenesem_otio.model.boundary import boundary_inputs
    from scenesem_otio.train.boundary import FilmShots, train_boundary_models, transition_labels

    colour_dim = COLOUR_DIM if colour else 0

    def shots(f: LabelledFilm) -> FilmShots:
        return FilmShots(boundary_inputs(f.shot_embeddings, f.shot_colours, colour_dim),
                         transition_labels(f.truth_s, f.shot_starts_s),
                         np.asarray(f.shot_starts_s, np.float64),
                         f.duration_s)

    config = {**(train_kwargs.pop("config", None) or {}), "colour_dim": colour_dim}
    model, stats = train_boundary_models([shots(f) for f in train if len(f.shot_starts_s) > 1],
                                         members=members, seed=seed, config=config,
                                         **train_kwargs)
    return model, calibration_of(boundary_scored(model, val), split), stats
