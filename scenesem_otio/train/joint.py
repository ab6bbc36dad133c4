"""Training, joint mode: the boundary model's BCE inside every contrastive step (issue 15).

`--boundary-training joint` trains the contextual boundary model together with the embedding:
each step adds, to L_seg + αL_sem, a class-balanced BCE on a run of consecutive shots of one
training film, embedded through the trainable layers so its gradient reaches the head and the
unfrozen encoder layers. The shots are those `cut` would see (detected in the same single
decode pass, one clip per shot as cut samples them), so the boundary model learns on the
shot embeddings it will judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from scenesem_otio.core.config import SamplingOptions, ShotOptions
from scenesem_otio.train.clips import ClipTable
from scenesem_otio.train.sources import VideoItem

CROP_SHOTS = 24  # shots per step: 2W + 16 transitions at W = 4, most of a short film


@dataclass
class ShotFilm:
    """A training film as `cut` sees it: its shots, their clips' rows in the clip table and
    one 0/1 label per shot transition."""

    video: int
    rows: np.ndarray  # [n_clips] rows of ClipTable.pixels, in film order
    clip_shot: np.ndarray  # [n_clips] shot of each clip
    shot_starts_s: np.ndarray  # [n_shots]
    duration_s: float
    labels: np.ndarray  # [n_shots − 1]

    @property
    def n_shots(self) -> int:
        return len(self.shot_starts_s)


def decode_shot_films(items: Sequence[VideoItem], videos: Sequence[int],
                      sampling: SamplingOptions, label_mode: str, first_row: int,
                      progress: bool = False) -> tuple[np.ndarray, list[ShotFilm]]:
    """Detect shots and decode cut's clips of each film in `videos` (one pass per film).

    Returns the clips' pixels (to append to the clip table, whose rows start at `first_row`)
    and one `ShotFilm` per film with two shots or more.
    """
    from scenesem_otio.core.progress import progress_bar
    from scenesem_otio.embed import shot_source
    from scenesem_otio.train.boundary import transition_labels, truth_starts_s

    chunks: list[np.ndarray] = []
    films: list[ShotFilm] = []
    row = first_row
    with progress_bar("shots for the joint boundary loss", total=len(videos), unit="films",
                      enabled=progress) as advance:
        for v in videos:
            item = items[v]
            source = shot_source(item.info, ShotOptions(), sampling)
            clips = [(plan.shot, clip) for plan, clip in source.clips()]
            advance(1)
            fps = float(item.info.fps)
            starts = np.asarray([s.start / fps for s in source.shots], np.float64)
            if len(starts) < 2 or not clips:
                continue
            chunks.append(np.stack([c for _, c in clips]))
            films.append(ShotFilm(
                v, np.arange(row, row + len(clips)), np.asarray([s for s, _ in clips]),
                starts, float(item.info.duration_s),
                transition_labels(truth_starts_s(item, label_mode), starts)))
            row += len(clips)
    if not chunks:
        return np.zeros((0,), np.uint8), []
    return np.concatenate(chunks), films


def positive_weight(films: Sequence[ShotFilm]) -> float:
    """pos_weight of the class-balanced BCE: negatives per positive over all films."""
    from scenesem_otio.core.errors import DataError

    n_pos = float(sum(f.labels.sum() for f in films))
    n_all = float(sum(len(f.labels) for f in films))
    if n_pos == 0 or n_pos == n_all:
        raise DataError("--boundary-training joint: the training films need both scene cuts "
                        f"and shot cuts inside scenes (got {int(n_pos)} of {int(n_all)})")
    return (n_all - n_pos) / n_pos


def with_shot_films(table: ClipTable, items: Sequence[VideoItem], videos: Sequence[int],
                    sampling: SamplingOptions, label_mode: str, progress: bool = False
                    ) -> ClipTable:
    """The clip table plus the training films' shot clips (scene −1), for the joint loss."""
    pixels, films = decode_shot_films(items, videos, sampling, label_mode, len(table.pixels),
                                      progress)
    if not films:
        from scenesem_otio.core.errors import DataError

        raise DataError("--boundary-training joint: no training film has two shots or more")
    n = len(pixels)
    video = np.concatenate([np.full(len(f.rows), f.video, np.int64) for f in films])
    return replace(table, pixels=np.concatenate([table.pixels, pixels]),
                   video=np.concatenate([table.video, video]),
                   scene=np.concatenate([table.scene, np.full(n, -1, np.int64)]),
                   label=np.concatenate([table.label, np.full(n, -1, np.int64)]),
                   shot_films=films)


@dataclass
class ShotCrop:
    """One step's consecutive shots: their clips' rows, which shot each clip belongs to
    (0-based within the crop), log durations and transition labels."""

    rows: np.ndarray
    clip_shot: np.ndarray
    log_dur: np.ndarray  # [n]
    labels: np.ndarray  # [n − 1]


def shot_crop(films: Sequence[ShotFilm], seed: int, step: int, rank: int = 0,
              length: int = CROP_SHOTS) -> ShotCrop:
    """A run of `length` consecutive shots of one film (weighted by its transitions): a pure
    function of (seed, step, rank), like `clips.batch_scenes`, so --resume needs no state."""
    from scenesem_otio.model.boundary import features_log_durations

    rng = np.random.default_rng([seed, step, rank, 15])
    weights = np.array([len(f.labels) for f in films], np.float64)
    film = films[int(rng.choice(len(films), p=weights / weights.sum()))]
    n = min(length, film.n_shots)
    a = int(rng.integers(0, film.n_shots - n + 1))
    keep = (film.clip_shot >= a) & (film.clip_shot < a + n)
    log_dur = features_log_durations(film.shot_starts_s, film.duration_s)[a : a + n]
    return ShotCrop(film.rows[keep], film.clip_shot[keep] - a, log_dur,
                    film.labels[a : a + n - 1])
