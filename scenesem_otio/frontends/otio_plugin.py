"""OTIO adapter `scenesem`: `otioconvert -i film.mp4 -I scenesem -o film.edl` cuts the video.

Absolute imports only (OTIO loads this file by path). Nothing heavy is imported until
`read_from_file` runs, so listing adapters never pulls in torch.
"""

from __future__ import annotations

from typing import Any


def _number(value: Any, kind: type) -> Any:
    """otioconvert passes `-a key=value` arguments as strings."""
    if value is None or value == "" or str(value).lower() == "none":
        return None
    return kind(value)


def read_from_file(
    filepath: str,
    model: str | None = None,
    level: str = "scenes",
    shots: str | None = None,
    min_scene: float | str | None = None,
    scenes: int | str | None = None,
    threshold: float | str | None = None,
    device: str = "auto",
    embeddings: bool | str = False,
    min_scene_s: float | str | None = None,
    **unknown: Any,
) -> Any:
    """Cut `filepath` into scenes and return the scene timeline (nothing is written).

    `-a min_scene=S` and `-a min_scene_s=S` (the `cut` keyword) are the same; an argument
    this adapter does not know is an error rather than silently dropped.
    """
    if unknown:
        raise ValueError(f"scenesem adapter: unknown argument(s) {', '.join(sorted(unknown))}; "
                         "known: model level shots min_scene scenes threshold device embeddings")
    from pathlib import Path

    from scenesem_otio.core.config import (
        CutOptions,
        OutputOptions,
        RuntimeOptions,
        SegmentOptions,
        ShotOptions,
    )
    from scenesem_otio.pipeline import cut

    min_s = min_scene_s if _number(min_scene_s, str) is not None else min_scene
    options = CutOptions(
        shots=ShotOptions(edit=Path(shots) if shots else None),
        segment=SegmentOptions(min_scene_s=_number(min_s, float),
                               n_scenes=("auto" if str(scenes).lower() == "auto"
                                         else _number(scenes, int)),
                               threshold=_number(threshold, float)),
        runtime=RuntimeOptions(model=model, device=device),
        output=OutputOptions(level=level,
                             embeddings=str(embeddings).lower() in ("1", "true", "yes")),
        progress=False)
    return cut(filepath, options).timeline
