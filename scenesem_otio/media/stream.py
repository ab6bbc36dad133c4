"""One decode pass for the whole cut: shot detection and clip sampling share every frame.

Each decoded frame is (a) converted to BGR and downscaled exactly as PySceneDetect's
SceneManager does (so the cuts equal `scenedetect.detect()` frame for frame) and fed to the
detector, and (b) reduced to its 224² centre crop and kept in a buffer for the open shot. When
the detector closes a shot, its clips are planned (SPEC §2.3), cut from the buffer and emitted,
and the buffer is dropped. Memory is bounded: frames of a very long shot spill to a temp file.
"""

from __future__ import annotations

import logging
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

import numpy as np

from scenesem_otio.core.config import SamplingOptions, ShotOptions
from scenesem_otio.core.scenes import Shot, VideoInfo, shots_from_cuts
from scenesem_otio.media.decode import DecodeStats, iter_frames, square_from_bgr
from scenesem_otio.media.sampling import ClipPlan, plan_shot
from scenesem_otio.media.thumbnails import ThumbnailCollector

if TYPE_CHECKING:
    from scenedetect import SceneDetector

log = logging.getLogger("scenesem")

SCENEDETECT_MIN_WIDTH = 256  # scenedetect.scene_manager.DEFAULT_MIN_WIDTH


class FrameBuffer:
    """224² crops of consecutive frames from `base` on; spills to disk past `max_in_memory`."""

    def __init__(self, size: int, max_in_memory: int = 512, max_pending: int = 4) -> None:
        self.size = size
        self.max_in_memory = max_in_memory
        self.max_pending = max_pending
        self.base = 0
        self.mem: list[np.ndarray] = []
        self.mem_base = 0  # frame index of mem[0]
        self._pending: deque[tuple[int, Future]] = deque()  # (frame, crop being made)
        self._disk: IO[bytes] | None = None
        self._disk_frames = 0

    def __len__(self) -> int:
        return self.mem_base + len(self.mem) - self.base

    @property
    def end(self) -> int:
        return self.mem_base + len(self.mem)

    def append_later(self, crop: Future) -> None:
        """A crop still being made in a worker thread; at most `max_pending` stay unresolved,
        so the full-size frames they hold stay few."""
        self._pending.append((self.end, crop))
        self.append(crop)  # type: ignore[arg-type]  # replaced by its result when resolved
        while len(self._pending) > self.max_pending:
            self._resolve_one()

    def _resolve_one(self) -> None:
        frame, crop = self._pending.popleft()
        self.mem[frame - self.mem_base] = crop.result()

    def _resolve(self) -> None:
        while self._pending:
            self._resolve_one()

    def append(self, crop: np.ndarray) -> None:
        self.mem.append(crop)
        if len(self.mem) > self.max_in_memory:
            self._resolve()
            if self._disk is None:
                self._disk = tempfile.TemporaryFile(prefix="scenesem-frames-")  # noqa: SIM115 - closed in close()
                self._disk_frames = 0
            spill, self.mem = self.mem[: len(self.mem) // 2], self.mem[len(self.mem) // 2 :]
            self._disk.seek(self._disk_frames * self.size * self.size * 3)
            for f in spill:
                self._disk.write(f.tobytes())
            self._disk_frames += len(spill)
            self.mem_base += len(spill)

    def get(self, frame: int) -> np.ndarray:
        self._resolve()
        frame = min(max(frame, self.base), self.end - 1)
        if frame >= self.mem_base:
            return self.mem[frame - self.mem_base]
        assert self._disk is not None
        nbytes = self.size * self.size * 3
        self._disk.seek((frame - self.base) * nbytes)
        data = self._disk.read(nbytes)
        return np.frombuffer(data, np.uint8).reshape(self.size, self.size, 3)

    def drop_before(self, frame: int) -> None:
        """Forget frames < frame (the shot that just closed)."""
        self._resolve()
        keep = [self.get(f).copy() for f in range(max(frame, self.base), self.mem_base)]
        self.mem = [*keep, *self.mem[max(0, frame - self.mem_base):]]
        self.base = self.mem_base = frame
        self.close()

    def close(self) -> None:
        if self._disk is not None:
            self._disk.close()
            self._disk = None
            self._disk_frames = 0


@dataclass
class SinglePass:
    """Iterate `clips()` once; afterwards `cuts`, `shots` and `stats` describe the film."""

    info: VideoInfo
    detector: SceneDetector
    sampling: SamplingOptions  # resolved: num_frames and image_size set
    stats: DecodeStats = field(default_factory=DecodeStats)
    thumbs: ThumbnailCollector | None = None  # fed every frame for `cut --report`
    cuts: list[int] = field(default_factory=list)
    shots: list[Shot] = field(default_factory=list)
    plans: list[ClipPlan] = field(default_factory=list)
    frames_seen: int = 0

    def _close_shot(self, buffer: FrameBuffer, start: int, end: int
                    ) -> Iterator[tuple[ClipPlan, np.ndarray]]:
        if self.thumbs is not None:
            self.thumbs.end_shot(end)
        index = len(self.shots)
        shot = Shot(start, end)
        self.shots.append(shot)
        for frames in plan_shot(shot, self.info.fps, self.sampling):
            plan = ClipPlan(index, frames)
            self.plans.append(plan)
            yield plan, np.stack([buffer.get(f) for f in frames])
        buffer.drop_before(end)

    def clips(self) -> Iterator[tuple[ClipPlan, np.ndarray]]:
        """Yield (plan, uint8 [T, S, S, 3]) in film order as shots close."""
        import cv2
        from av.video.reformatter import VideoReformatter
        from scenedetect import FrameTimecode

        fps = float(self.info.fps)
        size = int(self.sampling.image_size or 224)
        buffer = FrameBuffer(size)
        pixel_aspect = float(self.info.coded_sample_aspect)
        # The 224² crop of frame n is made in a worker while this thread converts frame n+1
        # and runs the detector (OpenCV releases the GIL): 2 cores kept busy, not 1.6.
        crops = ThreadPoolExecutor(1, thread_name_prefix="scenesem-crop")
        reformatter = VideoReformatter()  # one conversion context for the whole pass
        shot_start = 0
        pending: list[int] = []
        factor = None
        index = -1
        try:
            for index, frame in iter_frames(self.info.path, stats=self.stats):
                bgr: np.ndarray = reformatter.reformat(frame, format="bgr24",
                                                       threads=0).to_ndarray()
                buffer.append_later(crops.submit(square_from_bgr, bgr, size, pixel_aspect,
                                                              self.info.rotation))
                if factor is None:
                    width = bgr.shape[1]
                    factor = width / SCENEDETECT_MIN_WIDTH if width >= \
                        SCENEDETECT_MIN_WIDTH else 1.0
                if factor > 1.0:
                    bgr = cv2.resize(bgr, (max(1, round(bgr.shape[1] / factor)),
                                           max(1, round(bgr.shape[0] / factor))),
                                     interpolation=cv2.INTER_LINEAR)
                if self.thumbs is not None:
                    self.thumbs.feed(index, bgr)  # the ≤256 px frame the detector sees
                found = self.detector.process_frame(FrameTimecode(index, fps=fps), bgr)
                pending.extend(c.frame_num for c in found)
                pending.sort()
                while pending and pending[0] <= index:
                    cut = pending.pop(0)
                    if shot_start < cut < self.info.n_frames:
                        self.cuts.append(cut)
                        yield from self._close_shot(buffer, shot_start, cut)
                        shot_start = cut
            self.frames_seen = index + 1
            tail = self.detector.post_process(FrameTimecode(index + 1, fps=fps))
            for cut in sorted({*pending, *(c.frame_num for c in tail)}):
                if shot_start < cut < self.info.n_frames:
                    self.cuts.append(cut)
                    yield from self._close_shot(buffer, shot_start, cut)
                    shot_start = cut
            if shot_start < self.info.n_frames:
                yield from self._close_shot(buffer, shot_start, self.info.n_frames)
        finally:
            crops.shutdown(wait=True, cancel_futures=True)
            buffer.close()
        assert self.shots == shots_from_cuts(self.cuts, self.info.n_frames)


def single_pass(info: VideoInfo, shots: ShotOptions, sampling: SamplingOptions,
                stats: DecodeStats | None = None, thumbnails: bool = False,
                device: str = "cpu") -> SinglePass:
    """Shot source that detects cuts in the same decode that samples the clips (a learned
    detector runs on `device`, the backbone's)."""
    from scenesem_otio.media.shots import make_detector

    detector = make_detector(shots.detector, shots.detector_threshold, shots.min_shot,
                             shots.min_content, device)
    # keep the frames of a new shot that arrive before its late-reported cut (TransNetV2: 75)
    lag = max(32, detector.event_buffer_length + 1)
    thumbs = ThumbnailCollector(aspect=float(info.display_aspect), rotation=info.rotation,
                                lag=lag) if thumbnails else None
    return SinglePass(info, detector, sampling, stats or DecodeStats(), thumbs)

