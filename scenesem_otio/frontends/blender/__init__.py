"""The Blender Video Sequence Editor add-on, shipped as package data and written as a zip.

`scenesem_blender/` runs inside Blender's own Python: it never imports this package (nor
torch); it drives the `scenesem` command in a subprocess and reads the `.json` scene table it
writes. This module only packs it for Blender's Preferences → Add-ons → Install.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from scenesem_otio.core.fileio import atomic_path, check_writable

ADDON = Path(__file__).parent / "scenesem_blender"


def write_addon(output: str | os.PathLike) -> Path:
    """Zip the add-on as `scenesem_blender/…` (the layout Blender installs from), atomically."""
    output = Path(output)
    check_writable(output, (".zip",))
    sources = sorted(p for p in ADDON.rglob("*.py") if "__pycache__" not in p.parts)
    with atomic_path(output) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sources:
            zf.write(path, Path(ADDON.name) / path.relative_to(ADDON))
    return output
