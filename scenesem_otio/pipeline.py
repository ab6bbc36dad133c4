"""The data flow: probe -> shots -> clips -> embed -> segment -> timeline.

`cli.py` and the OTIO adapter plugin both call these functions; they import heavy modules
lazily so that importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def info(video: Path, as_json: bool = False) -> str:
    """What probe found, as a table or JSON (media helper owns this function)."""
    raise NotImplementedError


def baseline(video: Path, output: Path, *, detector: str = "adaptive",
             threshold: float | None = None, min_shot: int | None = None,
             progress: bool = True) -> str:
    """PySceneDetect shots -> timeline (media helper owns this function)."""
    raise NotImplementedError


def cut(video: Path, output: Path, *, progress: bool = True, **options: Any) -> Any:
    """Scenes -> timeline (model helper owns this function)."""
    raise NotImplementedError


def distance(timeline: Path, output: Path | None = None, *, top: int = 3) -> str:
    """Distance table/heatmap from a timeline with embeddings (model helper owns this)."""
    raise NotImplementedError
