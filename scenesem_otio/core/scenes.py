"""Value types passed between pipeline stages: media facts, shots and scenes.

Times inside the pipeline are integer frame indices plus an exact `Fraction` rate; RationalTime
is created only in `adapters/timeline.py`. Frame *n* is the n-th decoded frame in presentation
order; `VideoInfo.start_frame` (the start timecode) is an offset applied only at the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


def parse_rate(text: object, option: str = "--fps") -> Fraction:
    """A user-given frame rate ("25", "24000/1001", "29.97") as an exact, positive Fraction."""
    from scenesem_otio.core.errors import DataError

    try:
        value = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise DataError(f"{option} {text!r}: give a rate like 25, 24000/1001 or 29.97") from None
    if value <= 0:
        raise DataError(f"{option} {text!r}: must be positive")
    return value


def parse_sample_aspect(value: object) -> Fraction:
    """A stored pixel aspect (metadata's "64/45", or 1.4222) as a Fraction; 1 (square) when
    absent, unreadable or not positive, so a hand-edited table cannot break a writer."""
    if value is None:
        return Fraction(1)
    try:
        sar = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    return sar if sar > 0 else Fraction(1)


def scene_label(index: int) -> str:
    """The short name of scene `index` (0-based) everywhere a person reads it: "S001"."""
    return f"S{index + 1:03d}"


def scene_title(index: int) -> str:
    """The long name of scene `index` (0-based), as clips and strips carry it: "Scene 001"."""
    return f"Scene {index + 1:03d}"


@dataclass(frozen=True)
class AudioStream:
    """One audio stream of the media, as the timeline writers describe it to an NLE."""

    index: int  # stream index in the container (what ffmpeg's `-map 0:N` names)
    channels: int
    sample_rate: int  # Hz
    codec: str = ""


FIELD_ORDERS = ("progressive", "tff", "bff")  # top or bottom field first when interlaced


@dataclass(frozen=True)
class VideoInfo:
    """What `media.probe` found about a file."""

    path: str  # absolute path
    fps: Fraction  # exact nominal rate, e.g. Fraction(24000, 1001)
    n_frames: int  # decodable frames
    width: int  # display width (after rotation)
    height: int  # display height (after rotation)
    start_frame: int = 0  # start timecode as a frame count at `fps` (0 when none)
    start_timecode: str | None = None  # as stored in the file, e.g. "01:00:00;00"
    drop_frame: bool = False  # NTSC drop-frame timecode (29.97/59.94 with ';')
    vfr: bool = False  # frame durations vary; frames are placed by timestamp
    rotation: int = 0  # degrees from the display matrix
    codec: str = ""
    has_audio: bool = False
    start_time_s: float = 0.0  # stream start time (first pts) in seconds
    audio: tuple[AudioStream, ...] = ()  # the sound the timeline carries, in stream order
    # Pixel shape and scan, as archive media (DV, DVD, HDV, broadcast MPEG-2) store them: a
    # 720x576 16:9 frame has pixels 64/45 as wide as tall; NLE projects must say so or they
    # show the picture squeezed.
    sample_aspect: Fraction = Fraction(1)  # pixel width / pixel height (SAR), after rotation
    field_order: str = "progressive"  # FIELD_ORDERS: "progressive", "tff" or "bff"

    @property
    def display_aspect(self) -> Fraction:
        """Shape of the picture as shown: width × pixel aspect / height (16/9 for PAL 16:9)."""
        return self.width * self.sample_aspect / self.height

    @property
    def coded_sample_aspect(self) -> Fraction:
        """Pixel aspect of the frames as decoded (before the display rotation)."""
        return 1 / self.sample_aspect if self.rotation in (90, 270) else self.sample_aspect

    @property
    def duration_s(self) -> float:
        return float(self.n_frames / self.fps)

    def seconds(self, frame: int) -> float:
        """Seconds from the first frame to `frame`."""
        return float(frame / self.fps)

    def frame_at(self, seconds: float) -> int:
        """Nearest frame index to `seconds`, clamped to the media."""
        return min(max(round(seconds * self.fps), 0), self.n_frames)


@dataclass(frozen=True)
class Shot:
    """Frames [start, end) between two camera cuts."""

    start: int
    end: int  # exclusive

    @property
    def n_frames(self) -> int:
        return self.end - self.start


@dataclass
class Scene:
    """Frames [start, end) grouping consecutive shots, with what the model says about it."""

    index: int
    start: int
    end: int  # exclusive
    first_shot: int = 0  # index of its first shot
    n_shots: int = 1
    boundary_score: float | None = None  # score of the cut that opens this scene
    distance_prev: float | None = None  # D to the previous scene (SPEC §2.8)
    nearest: list[tuple[int, float]] = field(default_factory=list)  # (earlier scene, D)
    embedding: list[float] | None = None
    title: str = ""  # from a truth/training timeline
    description: str = ""
    metadata: dict = field(default_factory=dict)  # extra text fields (props, context…)

    @property
    def n_frames(self) -> int:
        return self.end - self.start


def shots_from_cuts(cuts: list[int], n_frames: int) -> list[Shot]:
    """Shots from sorted cut frames (each cut is the first frame of a new shot)."""
    starts = [0, *sorted({c for c in cuts if 0 < c < n_frames})]
    ends = [*starts[1:], n_frames]
    return [Shot(s, e) for s, e in zip(starts, ends)]
