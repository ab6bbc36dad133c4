"""OTIO adapter `scenesem_nle`: our frame-exact readers and writers for any OTIO tool.

OTIO's own adapters lose frames or fields that editors rely on: `fcpx_xml` reads FCPXML times with
`int(a / b * fps)`, so exact times such as 435/25 s come back a frame early; `cmx_3600` writes
EDLs with no `FCM:` line. This adapter dispatches on the file's extension (.edl, .xml, .fcpxml,
.otio, .otioz, .kdenlive, .mlt, .csv, .json) to the same code `scenesem` uses, e.g.
`otioconvert -i film.mp4 -I scenesem -o film.edl -O scenesem_nle` or
`otio.adapters.read_from_file("cut.fcpxml", adapter_name="scenesem_nle")`.

Absolute imports only (OTIO loads this file by path); nothing imports torch.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any


def _rate(rate: Any) -> Fraction | None:
    """`-a rate=24000/1001` arrives as a string; EDLs need it, other formats carry their own."""
    from scenesem_otio.core.errors import DataError
    from scenesem_otio.core.scenes import parse_rate

    if rate is None or str(rate).strip().lower() in ("", "none"):
        return None
    try:
        return parse_rate(rate, "scenesem_nle adapter: rate")
    except DataError as err:  # OTIO reports adapter-argument mistakes as ValueError
        raise ValueError(str(err)) from None


def read_from_file(filepath: str, rate: Any = None) -> Any:
    """Read a timeline by extension; `rate` for EDLs (default 24, or 30000/1001 for DF)."""
    from scenesem_otio.adapters.formats import read_timeline

    return read_timeline(filepath, rate=_rate(rate))


def write_to_file(input_otio: Any, filepath: str, resolve_markers: Any = False) -> None:
    """Write by extension, atomically; `-a resolve_markers=true` for Resolve's marker EDL."""
    from scenesem_otio.adapters.formats import write_timeline

    write_timeline(input_otio, filepath,
                   resolve_markers=str(resolve_markers).lower() in ("1", "true", "yes"))
