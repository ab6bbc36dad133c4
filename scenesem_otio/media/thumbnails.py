"""Report stage, pictures: small JPEGs of each shot's first, middle and last frame.

Fed by a decode pass: the single pass of `cut --report` (shots still unknown) or
`thumbnails_from_video` for `scenesem report` (shots known). Memory is flat in film length.

Size budget (issue 14: a 2-hour film's report under ~30 MB). Measured with
`cv2.imencode(quality 70, optimize)` at 144 px wide: ~3.0 KB a thumbnail for detailed HD
frames (Big Buck Bunny 720p), ~1.9 KB for bikes.mp4, ~1.3 KB for test.mp4 (160x90 source).
Base64 adds a third and the image element ~90 bytes: ≤ 4.1 KB on the page. A 2-hour film of
~1,500 shots x 3 thumbnails = 4,500 x 4.1 KB ≈ 18.5 MB, plus two heat-map axes of scene
keyframes (≤ 2 x 300 x 4.1 KB ≈ 2.5 MB): ~21 MB, leaving room for films with ~2,000 shots.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scenesem_otio.core.scenes import Shot

if TYPE_CHECKING:
    from av import VideoFrame

    from scenesem_otio.media.decode import DecodeStats

THUMB_WIDTH = 144  # px; 16:9 -> 144x81
JPEG_QUALITY = 70


@dataclass(frozen=True)
class ShotThumbs:
    """The pictures of one shot [start, end): JPEG bytes of `frames` (first, middle, last)."""

    start: int
    end: int
    frames: tuple[int, ...]
    jpegs: tuple[bytes, ...]


def shot_keyframes(start: int, end: int) -> tuple[int, ...]:
    """First, middle and last frame of [start, end), without repeats for 1–2 frame shots."""
    return tuple(sorted({start, (start + end - 1) // 2, end - 1}))


def thumb_size(width: int, height: int, thumb_width: int = THUMB_WIDTH,
               aspect: float | None = None) -> tuple[int, int]:
    """(w, h) of a thumbnail: `thumb_width` wide, height from the display aspect."""
    aspect = aspect or (width / max(height, 1))
    return thumb_width, max(2, round(thumb_width / aspect))


class ThumbnailCollector:
    """Keeps first/middle/last JPEGs per shot while a decode pass feeds it every frame.

    Two modes:
    - `shots` given (report from a timeline): only the needed frames matter; ask `wants(i)`
      before converting a frame, and feed those. Middles are exact.
    - no `shots` (the single pass of `cut`, where shots close as the detector finds cuts):
      call `feed(i, bgr)` for *every* frame, `end_shot(cut)` when a cut is known (possibly a
      few frames later: the last `lag` frames are kept) and `finish(n_frames)` at the end.
      The middle comes from a reservoir of ≤ `keep` frames spaced 2^k apart, so it is within
      shot_length / keep frames of the exact middle; first and last frames are exact.

    Frames are kept by reference (no copy, no per-frame resize): feed small frames (the
    ≤ 256 px wide frame PySceneDetect's SceneManager sees) and do not modify them afterwards.
    Held at once: ≤ keep + lag frames (≈ 5 MB at 256x144), plus the finished JPEGs.
    """

    def __init__(self, *, shots: Sequence[Shot] | None = None, width: int = THUMB_WIDTH,
                 quality: int = JPEG_QUALITY, aspect: float | None = None, keep: int = 32,
                 lag: int = 32, rotation: int = 0) -> None:
        self.width = width
        self.rotation = rotation  # clockwise degrees that turn a decoded frame upright
        self.quality = quality
        self.aspect = aspect
        self.keep = max(2, keep)
        self.thumbs: dict[int, ShotThumbs] = {}
        self._known = list(shots) if shots is not None else None
        self._wanted: dict[int, bytes | None] = {}
        if self._known is not None:
            for shot in self._known:
                for f in shot_keyframes(shot.start, shot.end):
                    self._wanted[f] = None
        self._start = 0
        self._step = 1
        self._samples: list[tuple[int, np.ndarray]] = []
        self._recent: deque[tuple[int, np.ndarray]] = deque(maxlen=max(1, lag))
        self._last_index = -1

    @property
    def held(self) -> int:
        """Decoded frames held right now (bounded by keep + lag whatever the film's length)."""
        return len({i for i, _ in (*self._samples, *self._recent)})

    # ---------------------------------------------------------------- feeding

    def wants(self, index: int) -> bool:
        """Whether frame `index` may become a thumbnail (always True while shots are unknown)."""
        return self._known is None or index in self._wanted

    def feed(self, index: int, bgr: np.ndarray) -> None:
        """One decoded frame (BGR uint8 [H, W, 3]), in decode order."""
        self._last_index = index
        if self._known is not None:
            if index in self._wanted:
                self._wanted[index] = self.encode(bgr)
            return
        self._recent.append((index, bgr))
        self._sample(index, bgr)

    def feed_frame(self, index: int, frame: VideoFrame) -> None:
        """A PyAV VideoFrame: converted (swscale area filter, straight to the thumbnail size)
        only when `wants(index)`: the cheap way to feed a decode loop that has no BGR frame."""
        if not self.wants(index):
            return
        w, h = self._unturned_size(frame.width, frame.height)
        self.feed(index, frame.reformat(width=w, height=h, format="bgr24",
                                        interpolation="AREA").to_ndarray())

    def _unturned_size(self, width: int, height: int) -> tuple[int, int]:
        """Thumbnail size of a decoded (not yet turned) `width` x `height` frame, before the
        turn: a portrait phone video's frames are stored landscape."""
        if self.rotation in (90, 270):
            tw, th = thumb_size(height, width, self.width, self.aspect)
            return th, tw
        return thumb_size(width, height, self.width, self.aspect)

    @property
    def stop(self) -> int | None:
        """Decode at least up to (excluding) this frame; None while shots are unknown."""
        if self._known is None:
            return None
        return max((s.end for s in self._known), default=0)

    def _sample(self, index: int, bgr: np.ndarray) -> None:
        if index < self._start or (index - self._start) % self._step:
            return
        self._samples.append((index, bgr))
        if len(self._samples) > self.keep:
            self._samples = self._samples[::2]  # keeps offsets that are multiples of 2*step
            self._step *= 2

    def end_shot(self, end: int) -> None:
        """The open shot ends before frame `end` (a cut, or the film's frame count)."""
        if self._known is not None or end <= self._start:
            return
        start = self._start
        pool = {i: f for i, f in [*self._samples, *self._recent] if start <= i < end}
        if pool:
            chosen = []
            for target in shot_keyframes(start, end):
                best = min((abs(i - target), i) for i in pool)[1]
                if best not in chosen:
                    chosen.append(best)
            chosen.sort()
            self.thumbs[start] = ShotThumbs(start, end, tuple(chosen),
                                            tuple(self.encode(pool[i]) for i in chosen))
        self._start, self._step, self._samples = end, 1, []
        for i, f in self._recent:  # frames of the new shot fed before its cut was known
            self._sample(i, f)

    def finish(self, n_frames: int | None = None) -> dict[int, ShotThumbs]:
        """Close the last shot; thumbnails by shot start frame."""
        if self._known is None:
            self.end_shot(n_frames if n_frames is not None else self._last_index + 1)
            self._recent.clear()
            self._samples = []
            return self.thumbs
        for shot in self._known:
            frames = [f for f in shot_keyframes(shot.start, shot.end)
                      if self._wanted.get(f) is not None]
            if frames:
                self.thumbs[shot.start] = ShotThumbs(
                    shot.start, shot.end, tuple(frames),
                    tuple(self._wanted[f] for f in frames))  # type: ignore[misc]
        return self.thumbs

    # ---------------------------------------------------------------- encoding

    def encode(self, bgr: np.ndarray) -> bytes:
        """Downscale (area filter) to the thumbnail size and encode as JPEG."""
        import cv2

        from scenesem_otio.media.decode import turn

        h, w = bgr.shape[:2]
        tw, th = self._unturned_size(w, h)
        if (w, h) != (tw, th):
            interpolation = cv2.INTER_AREA if tw <= w else cv2.INTER_LINEAR
            bgr = cv2.resize(bgr, (tw, th), interpolation=interpolation)
        bgr = turn(bgr, self.rotation)
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(bgr),
                               [cv2.IMWRITE_JPEG_QUALITY, self.quality,
                                cv2.IMWRITE_JPEG_OPTIMIZE, 1])
        if not ok:  # pragma: no cover - OpenCV fails only on empty images
            raise ValueError("JPEG encoding failed")
        return buf.tobytes()


def thumbnails_from_video(path: str | os.PathLike, shots: Iterable[Shot], *,
                          width: int = THUMB_WIDTH, quality: int = JPEG_QUALITY,
                          aspect: float | None = None, progress: bool = False,
                          stats: DecodeStats | None = None, rotation: int = 0
                          ) -> dict[int, ShotThumbs]:
    """Decode `path` once, forward, and keep each shot's first/middle/last frame.

    Only the needed frames are converted (scaled to the thumbnail size by swscale's area
    filter); decoding stops after the last needed frame.
    """
    from scenesem_otio.core.progress import progress_bar
    from scenesem_otio.media.decode import iter_frames

    collector = ThumbnailCollector(shots=list(shots), width=width, quality=quality,
                                   aspect=aspect, rotation=rotation)
    stop = collector.stop
    if not stop:
        return {}
    shown = 0
    with progress_bar("thumbnails", total=stop, unit="frames", enabled=progress) as advance:
        for index, frame in iter_frames(path, stop=stop, stats=stats):
            collector.feed_frame(index, frame)
            if index - shown >= 256:
                advance(index - shown)
                shown = index
        advance(stop - shown)
    return collector.finish()
