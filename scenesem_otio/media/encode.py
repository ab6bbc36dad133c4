"""Writing real H.264 films (synthetic benchmarks, test fixtures) with PyAV at an exact rate."""

from __future__ import annotations

import os
from fractions import Fraction
from types import TracebackType

import av
import numpy as np


class VideoWriter:
    """Encode RGB uint8 frames [H, W, 3] to an H.264 mp4/mov at an exact rational rate.

    `timecode` ("01:00:00:00", or with ';' for drop-frame) is stored as the container's start
    timecode, which the mov/mp4 muxer writes as a tmcd track, as cameras and NLEs do.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: Fraction | int | str,
        width: int,
        height: int,
        timecode: str | None = None,
        crf: int = 18,
        gop: int = 48,
    ) -> None:
        self.fps = Fraction(fps)
        self.container = av.open(str(path), mode="w")
        if timecode:
            self.container.metadata["timecode"] = timecode
        self.stream = self.container.add_stream("libx264", rate=self.fps)
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = Fraction(1, 1) / self.fps
        self.stream.options = {
            "crf": str(crf),
            "g": str(gop),
            "preset": "veryfast",
            "bf": "2",
            "threads": "2",
        }
        self.n_frames = 0

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(rgb, dtype=np.uint8), format="rgb24"
        )
        frame.pts = self.n_frames
        self.n_frames += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
