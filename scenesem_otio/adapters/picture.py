"""The picture format a timeline's media has, for the writers that must describe it to an NLE:
frame size (in stored pixels, turned as the display matrix turns it: a portrait phone film
is 1080x1920 though stored 1920x1080), pixel aspect (SAR) and field order.

Archive footage (DV, DVD, HDV, broadcast MPEG-2) stores 720x576 frames of pixels 64/45 as wide
as tall, fields top or bottom first; a project that calls it square and progressive shows the
picture squeezed and plays its fields in the wrong order. The timeline's metadata says so
(`timeline.py`: width and height always, `sample_aspect` and `field_order` only where they are
not square/progressive); a timeline from elsewhere is probed at its first clip's media.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio

from scenesem_otio.adapters.frames import clip_path
from scenesem_otio.adapters.timeline import NS, picture_clips
from scenesem_otio.core.scenes import FIELD_ORDERS, parse_sample_aspect

log = logging.getLogger("scenesem")


@dataclass(frozen=True)
class Picture:
    """Frame size in pixels (upright), pixel shape (width / height of one pixel) and scan."""

    width: int = 1920
    height: int = 1080
    sample_aspect: Fraction = Fraction(1)
    field_order: str = "progressive"  # FIELD_ORDERS

    @property
    def plain(self) -> bool:
        """Square pixels, progressive: nothing for a writer to say beyond the size."""
        return self.sample_aspect == 1 and self.field_order == "progressive"


def picture_format(timeline: otio.schema.Timeline,
                   paths: Iterable[str | None] | None = None) -> Picture:
    """The timeline's picture: our metadata, else a probe of the first file of `paths`
    (default: the picture clips' files) with a picture, else 1920x1080 square progressive
    (one warning)."""
    meta = timeline.metadata.get(NS, {})
    width, height = _pixels(meta.get("width")), _pixels(meta.get("height"))
    if width and height:
        return Picture(width, height, parse_sample_aspect(meta.get("sample_aspect")),
                       _field_order(meta.get("field_order")))
    if paths is None:
        paths = [clip_path(c, local_only=True) for c in picture_clips(timeline)]
    from scenesem_otio.core.errors import MediaError
    from scenesem_otio.media.probe import probe

    failed: MediaError | None = None
    for path in dict.fromkeys(p for p in paths if p):
        try:
            info = probe(path)
        except MediaError as err:  # missing, or no picture (a music file): try the next
            failed = failed or err
            continue
        return Picture(info.width, info.height, info.sample_aspect, info.field_order)
    if failed is not None:
        log.warning("%s; the picture format falls back to 1920x1080, square pixels, "
                    "progressive", failed)
    return Picture()


def picture_metadata(width: int | None, height: int | None,
                     sample_aspect: Fraction = Fraction(1),
                     field_order: str = "progressive") -> dict[str, object]:
    """The picture format a project states, as `build_timeline` keeps it in the timeline's
    metadata (pixel aspect and field order only where not square/progressive), so that a
    project read back, e.g. into Blender, shows archive footage unsqueezed again."""
    if not width or not height or width <= 0 or height <= 0:
        return {}
    meta: dict[str, object] = {"width": int(width), "height": int(height)}
    if sample_aspect > 0 and sample_aspect != 1:
        meta["sample_aspect"] = f"{sample_aspect.numerator}/{sample_aspect.denominator}"
    if field_order in FIELD_ORDERS and field_order != "progressive":
        meta["field_order"] = field_order
    return meta


def _pixels(value: object) -> int | None:
    """A metadata frame width or height (720, "720"); None when absent, not a whole number or
    not positive (a hand-edited table), so the media is probed instead."""
    try:
        pixels = int(str(value))
    except ValueError:
        return None
    return pixels if pixels > 0 else None


def _field_order(value: object) -> str:
    return value if isinstance(value, str) and value in FIELD_ORDERS else "progressive"
