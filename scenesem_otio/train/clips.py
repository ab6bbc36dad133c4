"""Training clips: every scene's clips decoded once, labelled, and sampled into batches.

Clips are planned inside each scene with the same sampler `cut` uses and decoded in one pass
per video; `batch_scenes` draws a step's scenes as a pure function of (seed, step, rank).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from scenesem_otio.core.config import SamplingOptions
from scenesem_otio.core.scenes import Shot, VideoInfo
from scenesem_otio.train.sources import SceneItem, VideoItem


@dataclass
class ClipTable:
    """Every training clip, decoded once: pixels plus who it belongs to."""

    pixels: np.ndarray  # uint8 [N, T, S, S, 3]
    video: np.ndarray  # [N] video index
    scene: np.ndarray  # [N] global scene index
    label: np.ndarray  # [N] label id for L_seg
    scene_video: np.ndarray  # [n_scenes] video of each scene
    scene_texts: list[str] = field(default_factory=list)
    # --boundary-training joint: cut's shot clips of the training films, appended as rows with
    # scene −1 (never drawn by `batch_scenes`), and how they form films (train.joint.ShotFilm)
    shot_films: list = field(default_factory=list)


def plan_scene_clips(scene: SceneItem, info: VideoInfo, sampling: SamplingOptions,
                     per_scene: int) -> list[tuple[int, ...]]:
    """Up to `per_scene` clips spread over the scene (short scenes repeat frames).

    The per-shot clip budget of `cut` (`max_clips_per_shot`) does not apply: `per_scene` is
    training's own budget."""
    from scenesem_otio.media.sampling import plan_shot

    seconds = (scene.end - scene.start) / float(info.fps)
    spread = replace(sampling, clip_every_s=max(seconds / per_scene, 1e-3),
                     max_clips_per_shot=None)
    return plan_shot(Shot(scene.start, scene.end), info.fps, spread)[:per_scene]


def build_clip_table(items: list[VideoItem], sampling: SamplingOptions, per_scene: int = 2,
                     label_mode: str = "scene", progress: bool = False) -> ClipTable:
    """Decode every clip of every scene (one pass per video) into one array."""
    from scenesem_otio.core.progress import progress_bar
    from scenesem_otio.media.sampling import iter_clips

    plans: list[tuple[int, int, tuple[int, ...]]] = []  # (video, global scene, frames)
    scene_video: list[int] = []
    texts: list[str] = []
    for v, item in enumerate(items):
        for s in item.scenes:
            g = len(texts)
            texts.append(s.text)
            scene_video.append(v)
            for frames in plan_scene_clips(s, item.info, sampling, per_scene):
                plans.append((v, g, frames))
    num_frames, image_size = int(sampling.num_frames or 0), int(sampling.image_size or 0)
    pixels = np.zeros((len(plans), num_frames, image_size, image_size, 3), np.uint8)
    labels = np.zeros(len(plans), np.int64)
    with progress_bar("decoding training clips", total=len(plans), unit="clips",
                      enabled=progress) as advance:
        for v, item in enumerate(items):
            rows = [i for i, p in enumerate(plans) if p[0] == v]
            for local, clip in iter_clips(item.path, [plans[i][2] for i in rows],
                                          size=image_size,
                                          sample_aspect=float(item.info.coded_sample_aspect),
                                          rotation=item.info.rotation):
                pixels[rows[local]] = clip
                advance(1)
    for i, (v, g, frames) in enumerate(plans):
        if label_mode == "frame":
            fl = items[v].frame_labels
            centre = frames[len(frames) // 2]
            local = int(fl[centre]) if fl is not None and 0 <= centre < len(fl) else -1
            # Labels are per video; offset them so two videos never share one.
            labels[i] = v * 1_000_000 + local if local >= 0 else -(i + 1)
        else:
            labels[i] = g
    return ClipTable(pixels=pixels, video=np.asarray([p[0] for p in plans], np.int64),
                     scene=np.asarray([p[1] for p in plans], np.int64), label=labels,
                     scene_video=np.asarray(scene_video, np.int64), scene_texts=texts)


def batch_scenes(table: ClipTable, train_videos: list[int], n_scenes: int, step: int,
                 seed: int, rank: int = 0) -> np.ndarray:
    """Global scene ids for one step: a run of neighbouring scenes of one video (hard
    negatives), topped up from another video when it is short.

    A pure function of (seed, step, rank): resuming needs no sampler state and every rank
    sees different scenes.
    """
    rng = np.random.default_rng([seed, step, rank])
    by_video = {v: np.flatnonzero(table.scene_video == v) for v in train_videos}
    weights = np.array([len(by_video[v]) for v in train_videos], np.float64)
    chosen: list[int] = []
    order = list(rng.choice(len(train_videos), size=len(train_videos), replace=False,
                            p=weights / weights.sum()))
    for vi in order:
        scenes = by_video[train_videos[vi]]
        need = n_scenes - len(chosen)
        if need <= 0:
            break
        take = min(need, len(scenes))
        first = int(rng.integers(0, len(scenes) - take + 1))
        chosen.extend(int(s) for s in scenes[first : first + take])
    return np.asarray(chosen, np.int64)
