"""Pseudo-scenes for footage nobody has cut into scenes (BaSSL-style pseudo-boundaries).

A user without edited projects adapts the model to their footage in two steps: this module
turns each video into a pseudo-edited project, then the ordinary trainer learns from it
(visual only: there are no descriptions). The pseudo-boundaries follow BaSSL (Mun et al.,
2022): in every window of 2W + 1 shots, the split that best aligns the shots to the window's
first and last shot (a two-state DTW, which reduces to one argmax) is that window's pseudo
boundary. A transition becomes a pseudo scene cut when most windows that contain it split
there: votes decide, so no scene count or threshold on similarities is needed. Measured on
the demo's films, the base model's own cosine rule cuts better pseudo-scenes (see METHODS):
both are offered, the better is the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scenesem_otio.model.embedder import SceneEmbedder

# On the demo's 20 training films (embedded model, ~2.7 shots per scene; their truth, never the
# held-out films) the votes at W = 2 gave pseudo-cuts of P 0.64–0.76, R 0.50–0.60 (min votes
# 0.2–0.4); at W = 4 R fell to 0.16–0.33: a window holding two cuts votes for one, so short
# scenes need short windows, and a scene longer than a window is split by noise.
WINDOW = 2  # W: windows of 2W + 1 shots
METHODS = ("cosine", "dtw")
# The same films, cut by the embedded model's cosine rule at its 80th percentile: P 0.93
# R 0.58 (F1 0.71), against the votes' best F1 0.62: "cosine" is the default method.
DEFAULT_METHOD = "cosine"
MIN_VOTES = 0.4  # share of the windows containing a transition that must split there


def dtw_split(sim_first: np.ndarray, sim_last: np.ndarray) -> int:
    """The split k (shots [0, k] | [k + 1, L)) maximising Σ_{i≤k} sim(i, first) +
    Σ_{i>k} sim(i, last): the monotonic alignment of the window to its two end shots.

    Returns the transition index k in 0 … L − 2 (the cut after shot k)."""
    a = np.asarray(sim_first, np.float64)
    b = np.asarray(sim_last, np.float64)
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("need the same two similarity rows of length ≥ 2")
    left = np.cumsum(a)[:-1]  # shots 0..k with the first
    right = np.cumsum(b[::-1])[::-1][1:]  # shots k+1..L−1 with the last
    return int(np.argmax(left + right))


def pseudo_boundary_votes(shot_emb: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """For each transition: the share of the windows of 2W + 1 shots containing it whose
    DTW split falls on it. n shots -> n − 1 values in [0, 1].

    Only whole windows vote (a window cut short by the film's end would be forced to split
    its few shots), and every share is over the 2W windows an inner transition lies in, so a
    transition near the ends, seen by fewer windows, needs as many votes. A film shorter
    than one window is one window."""
    v = np.asarray(shot_emb, np.float64)
    n = len(v)
    if n < 2:
        return np.zeros(0)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    length = min(2 * window + 1, n)
    hits = np.zeros(n - 1)
    for lo in range(n - length + 1):
        w = v[lo : lo + length]
        hits[lo + dtw_split(w @ w[0], w @ w[-1])] += 1
    return hits / min(2 * window, n - length + 1)


def pseudo_cuts(shot_emb: np.ndarray, shot_starts_s: Sequence[float], duration_s: float,
                window: int = WINDOW, min_votes: float = MIN_VOTES,
                min_scene_s: float = 0.0, method: str = "dtw") -> list[int]:
    """Transitions that become pseudo scene cuts, decoded as `segment` decodes (a local
    maximum within ±1, no pseudo scene shorter than `min_scene_s`).

    method "dtw": the DTW votes ≥ `min_votes`. "cosine": the base model's cosine rule
    (±2 shots) above its 80th percentile, cut's own default θ (self-training).
    """
    from scenesem_otio.segment.decide import boundary_scores, default_threshold, pick_boundaries

    if method not in METHODS:
        raise ValueError(f"pseudo-label method: one of {', '.join(METHODS)}, not {method!r}")
    if len(shot_emb) < 2:
        return []
    if method == "cosine":
        scores = boundary_scores(np.asarray(shot_emb, np.float64), 2)
        theta = default_threshold(scores)
    else:
        scores, theta = pseudo_boundary_votes(shot_emb, window), min_votes
    return pick_boundaries(scores, list(shot_starts_s), float(duration_s), theta, 1,
                           min_scene_s)


@dataclass
class PseudoProject:
    """One video turned into a pseudo-edited project."""

    video: Path
    timeline: Path
    shots: int
    scenes: int


def validation_films(scene_counts: Sequence[int], val_share: float = 0.2) -> set[int]:
    """Indices of the films held out to calibrate θ: the last `val_share` of those with two
    or more pseudo-scenes (a one-scene film has no cut for θ to match, and calibrating on it
    gives θ = 1, a checkpoint that cuts nothing), always leaving one such film to train on.
    None when fewer than two films have a cut: training then skips calibration."""
    cut = [i for i, n in enumerate(scene_counts) if n >= 2]
    n_val = min(max(1, round(val_share * len(scene_counts))), len(cut) - 1)
    return set(cut[len(cut) - n_val:]) if n_val > 0 else set()


def write_pseudo_projects(videos: Sequence[str | Path], out_dir: str | Path,
                          embedder: SceneEmbedder,
                          *, method: str = DEFAULT_METHOD, window: int = WINDOW,
                          min_votes: float = MIN_VOTES, min_scene_s: float = 0.0,
                          val_share: float = 0.2,
                          progress: bool = True) -> tuple[Path, list[PseudoProject]]:
    """Embed each video, cut it at its pseudo-boundaries and write `<name>.pseudo.otio` plus
    a training manifest (`manifest.yaml`; `val` as `validation_films` chooses).

    Returns the manifest path and what was written; train with
    `scenesem train --data <manifest> --alpha 0`.
    """
    import yaml

    from scenesem_otio.adapters.formats import write_timeline
    from scenesem_otio.adapters.timeline import build_timeline
    from scenesem_otio.core.errors import DataError
    from scenesem_otio.core.fileio import write_text_atomic
    from scenesem_otio.embed import embed_film
    from scenesem_otio.segment.decide import build_scenes

    if not videos:
        raise DataError("pseudo-label: no videos given")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    projects: list[PseudoProject] = []
    for video in videos:
        film = embed_film(video, embedder, progress=progress)
        fr = float(film.info.fps)
        starts = [s.start / fr for s in film.shots]
        cuts = pseudo_cuts(film.shot_embeddings, starts, film.info.duration_s, window,
                           min_votes, min_scene_s, method)
        scenes = build_scenes(film.shots, film.shot_embeddings, [0, *(k + 1 for k in cuts)])
        timeline = build_timeline(film.info, scenes, name=f"{Path(video).stem} pseudo-scenes",
                                  metadata={"pseudo_labels": method, "window": window,
                                            "min_votes": min_votes})
        path = out / f"{Path(video).stem}.pseudo.otio"
        write_timeline(timeline, path)
        projects.append(PseudoProject(Path(video), path, len(film.shots), len(scenes)))
    val = validation_films([p.scenes for p in projects], val_share)
    entries = [{"video": str(p.video.resolve()), "timeline": p.timeline.name,
                "split": "val" if i in val else "train"} for i, p in enumerate(projects)]
    manifest = out / "manifest.yaml"
    write_text_atomic(manifest, yaml.safe_dump(entries, sort_keys=False))
    return manifest, projects
