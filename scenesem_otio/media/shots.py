"""Media stage 3: shot cuts with PySceneDetect, exactly as `scenedetect.detect()` finds them
(or with TransNetV2 behind the same detector interface, for dissolves and fades)."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from scenesem_otio.core.errors import MediaError

if TYPE_CHECKING:
    from scenedetect import SceneDetector

log = logging.getLogger("scenesem")

DETECTORS = ("adaptive", "content", "hash", "hist", "transnetv2")


def make_detector(name: str = "adaptive", threshold: float | None = None,
                  min_shot: int | None = None, min_content: float | None = None,
                  device: str = "cpu") -> SceneDetector:
    """A PySceneDetect detector; `None` keeps the detector's own default for that knob.

    `min_content` is the adaptive detector's `min_content_val`; other detectors have none.
    `device` is where a learned detector (TransNetV2) runs.
    """
    import scenedetect

    if name == "transnetv2":
        from scenesem_otio.media.transnet import TransNetV2Detector

        return TransNetV2Detector(threshold, min_shot, device)

    kwargs: dict[str, Any] = {}
    if min_shot is not None:
        kwargs["min_scene_len"] = min_shot
    if name == "adaptive":
        if threshold is not None:
            kwargs["adaptive_threshold"] = threshold
        if min_content is not None:
            kwargs["min_content_val"] = min_content
        return scenedetect.AdaptiveDetector(**kwargs)
    if threshold is not None:
        kwargs["threshold"] = threshold
    if name == "content":
        return scenedetect.ContentDetector(**kwargs)
    if name == "hash":
        return scenedetect.HashDetector(**kwargs)
    if name == "hist":
        return scenedetect.HistogramDetector(**kwargs)
    raise MediaError(f"unknown shot detector {name!r} (choose from {', '.join(DETECTORS)})")


def _backend(path: str | os.PathLike, field_order: str | None = None) -> str:
    """PySceneDetect's video backend: its default, OpenCV, except for interlaced media.

    OpenCV's ffmpeg (opencv-python 5.0) converts no frame of interlaced video ("Cannot convert
    interlaced to progressive frames", once a frame) and PySceneDetect then finds no cut at all
    in DV, DVD, HDV or broadcast footage; its PyAV backend decodes the same files correctly.
    `field_order` is the caller's probe's (the file is probed here only without one).
    """
    if field_order is None:
        from scenesem_otio.media.probe import probe

        try:
            field_order = probe(path).field_order
        except MediaError:
            return "opencv"  # let PySceneDetect say what is wrong with the file
    interlaced = field_order != "progressive"
    if interlaced:
        log.info("%s: interlaced; PySceneDetect reads it with PyAV, not OpenCV", path)
    return "pyav" if interlaced else "opencv"


def detect_shots(path: str | os.PathLike, detector: str = "adaptive",
                 threshold: float | None = None, min_shot: int | None = None,
                 progress: bool = False, min_content: float | None = None,
                 field_order: str | None = None) -> list[int]:
    """Cut frames (first frame of each new shot), via SceneManager + the OpenCV backend.

    This is the code path of `scenedetect.detect(path, Detector())`, so `scenesem baseline`
    equals PySceneDetect's own answer frame for frame, except for interlaced media (`_backend`;
    `field_order` from a probe the caller already made spares probing the file again).
    """
    import logging

    import scenedetect
    from scenedetect.scene_manager import SceneManager

    # PySceneDetect installs an INFO handler of its own; follow our verbosity instead.
    if not logging.getLogger("scenesem").isEnabledFor(logging.DEBUG):
        logging.getLogger("pyscenedetect").setLevel(logging.WARNING)

    try:
        video = scenedetect.open_video(str(path), backend=_backend(path, field_order))
    except Exception as err:
        raise MediaError(f"{path}: PySceneDetect cannot open it ({err})") from None
    manager = SceneManager()
    manager.add_detector(make_detector(detector, threshold, min_shot, min_content))
    manager.detect_scenes(video=video, show_progress=progress)
    scenes = manager.get_scene_list(start_in_scene=True)
    return [start.frame_num for start, _ in scenes[1:]]
