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
    min_scene: float | str = 8.0,
    scenes: int | str | None = None,
    threshold: float | str | None = None,
    device: str = "auto",
    embeddings: bool | str = False,
    **_ignored: Any,
) -> Any:
    """Cut `filepath` into scenes and return the scene timeline (nothing is written)."""
    from scenesem_otio.pipeline import cut

    result = cut(
        filepath, None, progress=False, model=model, level=level, shots_edit=shots,
        min_scene_s=_number(min_scene, float), n_scenes=_number(scenes, int),
        threshold=_number(threshold, float), device=device,
        embeddings=str(embeddings).lower() in ("1", "true", "yes"),
    )
    return result.timeline
