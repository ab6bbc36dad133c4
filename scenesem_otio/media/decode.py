"""Media stage 2: one forward decode pass with PyAV; frames converted once, resized with OpenCV.

Measured (benchmarks/pipeline.py, 1-min 1080p H.264, 2 cores): "decode -> 224² crops" alone is
faster through an ffmpeg pipe (imageio-ffmpeg's binary, scaling in ffmpeg: 7.5 s) than through
PyAV (15 s). We still keep PyAV as the one path because `scenesem cut` needs each frame twice in
the same pass: full-size BGR exactly as PySceneDetect's OpenCV backend sees it (so shots equal
`scenedetect.detect()`), and the 224² crop. A pipe would have to carry 6 MB per 1080p frame to
give both; PyAV hands us the decoded frame and frame-exact indices without parsing a byte stream.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scenesem_otio.core.errors import MediaError
from scenesem_otio.media.probe import open_container

if TYPE_CHECKING:
    from av import VideoFrame

log = logging.getLogger("scenesem")


@dataclass
class DecodeStats:
    """Counts what a decode pass did, so tests can prove the file was decoded once."""

    frames_decoded: int = 0
    corrupt_packets: int = 0


def resized_shape(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(w, h) after scaling so the shorter side is `short_side` (VideoMAEImageProcessor rule)."""
    if width <= height:
        return short_side, max(short_side, round(height * short_side / width))
    return max(short_side, round(width * short_side / height)), short_side


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
_LARGE_ALLOCATIONS_RECYCLED = False


def recycle_large_allocations() -> None:
    """Let glibc serve decoded frames from the heap instead of a fresh mmap each.

    Each converted 1080p frame is a 6 MB array. By default glibc hands blocks that large out
    as new mappings and unmaps them on free, so every frame is page-faulted in again: 13 M
    faults and 19 s of kernel time for a 10-minute film, 1.6x PySceneDetect's time for the
    decode pass (benchmarks/pipeline.py). Raising the mmap threshold to 32 MB (glibc's
    maximum; a 4K frame is 25 MB) and the trim threshold to 128 MB recycles the blocks:
    44 k faults, and the pass runs at PySceneDetect's pace. Process-wide, set once, and a
    no-op where libc is not glibc.
    """
    global _LARGE_ALLOCATIONS_RECYCLED
    if _LARGE_ALLOCATIONS_RECYCLED:
        return
    _LARGE_ALLOCATIONS_RECYCLED = True
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)
    mallopt(_M_TRIM_THRESHOLD, 128 * 1024 * 1024)


def iter_frames(
    path: str | os.PathLike,
    stop: int | None = None,
    stats: DecodeStats | None = None,
) -> Iterator[tuple[int, VideoFrame]]:
    """Yield (frame index, av.VideoFrame) in presentation order, stopping before `stop`.

    Frame n is the n-th frame the decoder outputs. A packet that fails to decode is skipped
    with a warning (its frame is missing, later frames keep their decoded order).
    """
    import av

    stats = stats if stats is not None else DecodeStats()
    recycle_large_allocations()
    with open_container(path) as container:
        videos = [s for s in container.streams if s.type == "video"]
        if not videos:
            raise MediaError(f"{path}: no video stream")
        stream = videos[0]
        stream.thread_type = "AUTO"
        index = 0
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError as err:
                stats.corrupt_packets += 1
                log.warning("%s: skipping undecodable data near frame %d (%s)", path, index, err)
                continue
            for frame in frames:
                stats.frames_decoded += 1
                yield index, frame
                index += 1
                if stop is not None and index >= stop:
                    return
        if index == 0:
            raise MediaError(f"{path}: no decodable frames")


def turn(image: np.ndarray, rotation: int) -> np.ndarray:
    """A decoded frame turned upright: `rotation` degrees clockwise (`VideoInfo.rotation`, from
    the display matrix), as ffmpeg's own autorotate shows a phone's portrait video."""
    import cv2

    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
             270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return cv2.rotate(image, codes[rotation]) if rotation in codes else image


def square_from_bgr(bgr: np.ndarray, size: int, sample_aspect: float = 1.0,
                    rotation: int = 0) -> np.ndarray:
    """BGR uint8 [H, W, 3] -> RGB [size, size, 3]: shorter side to `size` (area filter, i.e.
    antialiased like the PIL bilinear resize of VideoMAEImageProcessor), centre crop.

    `sample_aspect` is the pixel shape (64/45 for PAL 16:9): the square is taken from the
    picture as shown, not from the stored pixels, so the network sees round things round.
    `rotation` turns the crop upright (a centre square stays the centre square when turned).

    The crop is taken first, from the source pixels it covers (offsets rounded to the nearest
    source pixel), so only those are resized: 35 % less work for 16:9 than resizing the whole
    frame, and within 1 grey level of it (mean 0.01).
    """
    import cv2

    h, w = bgr.shape[:2]
    rw, rh = resized_shape(max(1, round(w * sample_aspect)), h, size)
    x0, y0 = (rw - size) // 2, (rh - size) // 2
    xs, xe = round(x0 * w / rw), round((x0 + size) * w / rw)
    ys, ye = round(y0 * h / rh), round((y0 + size) * h / rh)
    region = bgr[ys:ye, xs:xe]
    cw = xe - xs
    if 2 * size < cw:
        # Linear to twice the target, then an exact 2:1 area step: within 0.1 grey level of a
        # direct area resize at a seventh of its cost (8.4 ms -> 1.2 ms for 1080p).
        region = cv2.resize(region, (2 * size, 2 * size), interpolation=cv2.INTER_LINEAR)
        small = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA)
    else:
        interpolation = cv2.INTER_AREA if size <= cw else cv2.INTER_LINEAR
        small = cv2.resize(region, (size, size), interpolation=interpolation)
    return np.ascontiguousarray(turn(small, rotation)[..., ::-1])


def to_square_rgb(frame, size: int, sample_aspect: float = 1.0, rotation: int = 0
                  ) -> np.ndarray:
    """av.VideoFrame -> uint8 RGB [size, size, 3] (via the same BGR frame the shot detector
    sees, so the single pass converts each frame once)."""
    return square_from_bgr(frame.reformat(format="bgr24", threads=0).to_ndarray(), size,
                           sample_aspect, rotation)
