"""Media stage 4: plan clips inside shots (SPEC §2.3) and sample them in one decode pass."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from scenesem_otio.core.config import SamplingOptions
from scenesem_otio.core.scenes import Shot, VideoInfo
from scenesem_otio.media.decode import DecodeStats, iter_frames, to_square_rgb

if TYPE_CHECKING:
    from av import VideoFrame


@dataclass(frozen=True)
class ClipPlan:
    """The frames of one clip, all inside shot `shot`."""

    shot: int
    frames: tuple[int, ...]


def plan_shot(shot: Shot, fps: Fraction, sampling: SamplingOptions) -> list[tuple[int, ...]]:
    """Frame sets for one shot: ceil(seconds / clip_every) clips, each centred in its part.

    A clip budget (`max_clips_per_shot`) caps long shots: they get that many clips spread
    evenly over the whole shot, since a long take changes slowly and each further clip adds
    backbone work but little to the shot's mean embedding. `sampling` must be resolved
    (`num_frames` set).
    """
    length = shot.n_frames
    num_frames = int(sampling.num_frames or 0)
    if length <= 0:
        return []
    if num_frames < 1:
        raise ValueError("sampling.num_frames must be resolved to the backbone's clip length")
    n_clips = max(1, math.ceil(float(length / fps) / sampling.clip_every_s - 1e-9))
    if sampling.max_clips_per_shot is not None:
        n_clips = min(n_clips, max(1, int(sampling.max_clips_per_shot)))
    part = length / n_clips
    span = min(sampling.clip_span_s * float(fps), part)
    clips = []
    for c in range(n_clips):
        centre = shot.start + (c + 0.5) * part
        first = centre - span / 2
        frames = [
            min(max(math.floor(first + (i + 0.5) * span / num_frames), shot.start), shot.end - 1)
            for i in range(num_frames)
        ]
        clips.append(tuple(frames))
    return clips


def plan_clips(shots: Sequence[Shot], fps: Fraction, sampling: SamplingOptions
               ) -> list[ClipPlan]:
    """Clips for every shot, in film order (so sampling streams through the file once)."""
    return [
        ClipPlan(i, frames)
        for i, shot in enumerate(shots)
        for frames in plan_shot(shot, fps, sampling)
    ]


class KnownShots:
    """Shot source for shots known before decoding (an edit, or cuts detected earlier).

    Same interface as `media.stream.SinglePass`: iterate `clips()` once; `shots`, `plans` and
    `stats` describe the film.
    """

    def __init__(self, info: VideoInfo, shots: Sequence[Shot], sampling: SamplingOptions,
                 stats: DecodeStats | None = None, thumbnails: bool = False) -> None:
        from scenesem_otio.media.thumbnails import ThumbnailCollector

        self.info = info
        self.shots = list(shots)
        self.plans = plan_clips(self.shots, info.fps, sampling)
        self.size = int(sampling.image_size or 224)
        self.stats = stats or DecodeStats()
        self.thumbs = (ThumbnailCollector(shots=self.shots, aspect=float(info.display_aspect),
                                          rotation=info.rotation)
                       if thumbnails else None)

    def clips(self) -> Iterator[tuple[ClipPlan, np.ndarray]]:
        frame_sets = [p.frames for p in self.plans]
        thumbs = self.thumbs
        for c, clip in iter_clips(self.info.path, frame_sets, self.size, self.stats,
                                  on_frame=thumbs.feed_frame if thumbs else None,
                                  min_stop=thumbs.stop if thumbs else None,
                                  sample_aspect=float(self.info.coded_sample_aspect),
                                  rotation=self.info.rotation):
            yield self.plans[c], clip


def _frame_shape(path: str | os.PathLike, sample_aspect: float | None, rotation: int | None
                 ) -> tuple[float, int]:
    """The decoded frames' pixel aspect and upright turn: as given, else probed."""
    if sample_aspect is None or rotation is None:
        from scenesem_otio.media.probe import probe

        info = probe(path)
        sample_aspect = float(info.coded_sample_aspect) if sample_aspect is None \
            else sample_aspect
        rotation = info.rotation if rotation is None else rotation
    return sample_aspect, rotation


def iter_clips(
    path: str | os.PathLike,
    frame_sets: Sequence[Sequence[int]],
    size: int = 224,
    stats: DecodeStats | None = None,
    on_frame: Callable[[int, VideoFrame], None] | None = None,
    min_stop: int | None = None,
    sample_aspect: float | None = None,
    rotation: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (clip index, uint8 [T, size, size, 3]) as soon as a clip's last frame is decoded.

    One forward pass, no seeks; decoding stops after the last needed frame (or `min_stop`).
    Memory holds only clips still open. A frame lost to corruption is replaced by the nearest
    earlier decoded frame of the clip (or the next one), so every clip comes out whole.
    `on_frame(index, av_frame)` sees every decoded frame (thumbnails for `cut --report`).
    `sample_aspect` (the decoded frames' pixel shape) and `rotation` (clockwise degrees that
    turn them upright) are probed from the file when None.
    """
    sample_aspect, rotation = _frame_shape(path, sample_aspect, rotation)
    needs: dict[int, list[tuple[int, int]]] = {}
    last_frame = [max(fs) if len(fs) else -1 for fs in frame_sets]
    for c, fs in enumerate(frame_sets):
        for slot, f in enumerate(fs):
            needs.setdefault(f, []).append((c, slot))
    if not needs:
        return
    stop = max(max(needs) + 1, min_stop or 0)
    open_clips: dict[int, np.ndarray] = {}
    filled: dict[int, np.ndarray] = {}
    by_last: dict[int, list[int]] = {}
    for c, lf in enumerate(last_frame):
        by_last.setdefault(lf, []).append(c)
    pending = sorted(by_last)
    cursor = 0
    for index, frame in iter_frames(path, stop=stop, stats=stats):
        if on_frame is not None:
            on_frame(index, frame)
        wanted = needs.get(index)
        if wanted:
            rgb = to_square_rgb(frame, size, sample_aspect, rotation)
            for c, slot in wanted:
                if c not in open_clips:
                    open_clips[c] = np.empty((len(frame_sets[c]), size, size, 3), np.uint8)
                    filled[c] = np.zeros(len(frame_sets[c]), bool)
                open_clips[c][slot] = rgb
                filled[c][slot] = True
        while cursor < len(pending) and pending[cursor] <= index:
            for c in by_last[pending[cursor]]:
                yield c, _complete(open_clips.pop(c, None), filled.pop(c, None),
                                   len(frame_sets[c]), size)
            cursor += 1
    # Frames beyond the end (damaged tail): finish the remaining clips from what we have.
    while cursor < len(pending):
        for c in by_last[pending[cursor]]:
            if pending[cursor] >= 0:
                yield c, _complete(open_clips.pop(c, None), filled.pop(c, None),
                                   len(frame_sets[c]), size)
        cursor += 1


def _complete(clip: np.ndarray | None, filled: np.ndarray | None, n: int,
              size: int) -> np.ndarray:
    """Fill slots whose frame never decoded from the nearest decoded slot."""
    if clip is None or filled is None or not filled.any():
        return np.zeros((n, size, size, 3), np.uint8)
    if not filled.all():
        ok = np.flatnonzero(filled)
        for slot in np.flatnonzero(~filled):
            clip[slot] = clip[ok[np.argmin(np.abs(ok - slot))]]
    return clip


def sample_clips(
    path: str | os.PathLike,
    frame_sets: Sequence[Sequence[int]],
    size: int = 224,
    stats: DecodeStats | None = None,
) -> np.ndarray:
    """All clips at once: uint8 [N, T, size, size, 3], decoded in one forward pass."""
    if not frame_sets:
        return np.zeros((0, 0, size, size, 3), np.uint8)
    t = len(frame_sets[0])
    out = np.zeros((len(frame_sets), t, size, size, 3), np.uint8)
    for c, clip in iter_clips(path, frame_sets, size, stats):
        out[c] = clip
    return out
