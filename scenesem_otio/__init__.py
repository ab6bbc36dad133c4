"""scenesem: cut films into scenes and measure the semantic distance between them.

Importing this package is cheap: torch, transformers, PyAV and PySceneDetect load only when a
function that needs them runs (OTIO loads this package as an adapter plugin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "baseline", "cut", "probe", "read_timeline", "write_timeline"]

_LAZY = {
    "cut": "scenesem_otio.pipeline",
    "baseline": "scenesem_otio.pipeline",
    "probe": "scenesem_otio.media.probe",
    "read_timeline": "scenesem_otio.adapters.formats",
    "write_timeline": "scenesem_otio.adapters.formats",
}

if TYPE_CHECKING:
    from scenesem_otio.adapters.formats import read_timeline, write_timeline
    from scenesem_otio.media.probe import probe
    from scenesem_otio.pipeline import baseline, cut


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'scenesem_otio' has no attribute {name!r}")
