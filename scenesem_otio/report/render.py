"""Report, rendering: the page's values through autoescaped Jinja2 templates.

Markup, styles and script live in `templates/` (package data); every value is escaped on
the way in, so a scene named like a script tag reads as text. Only the shipped CSS and JS are
included verbatim.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scenesem_otio.report.gather import Film
from scenesem_otio.report.marks import UNKNOWN_CSS
from scenesem_otio.report.view import page

if TYPE_CHECKING:
    import jinja2

    from scenesem_otio.media.thumbnails import ShotThumbs


def data_uri(data: bytes, mime: str) -> str:
    """Bytes as a data: URI, so the page needs no files beside it."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def fixed(value: float, digits: int = 1) -> str:
    """A number with `digits` decimals (Python's rounding, as the rest of scenesem prints)."""
    return f"{value:.{digits}f}"


@functools.cache
def environment() -> jinja2.Environment:
    """The templates of this package, autoescaped, failing on a name the page does not have."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("scenesem_otio.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(data_uri=data_uri, fixed=fixed)
    env.globals.update(unknown_css=UNKNOWN_CSS)
    return env


def render_report(film: Film, thumbs: Mapping[int, ShotThumbs],
                  facts: Mapping[str, Any] | None = None, video: str | None = None
                  ) -> tuple[str, int]:
    """The whole page as text, and how many images it holds."""
    view = page(film, thumbs, facts, video)
    return environment().get_template("page.html.j2").render(page=view), view.n_images
