"""Report, how a scene is marked on the page: its marker colour in CSS, and its anchor."""

from __future__ import annotations

from scenesem_otio.core.scenes import scene_label

# OTIO marker colour names -> the CSS colour the page paints them in.
MARKER_CSS = {"RED": "#e5484d", "YELLOW": "#f5c518", "GREEN": "#46a758", "BLUE": "#3e8eed",
              "CYAN": "#2ec4d6", "PURPLE": "#8e4ec6", "PINK": "#e93d82", "ORANGE": "#f76b15",
              "MAGENTA": "#d23fd2", "BLACK": "#111111", "WHITE": "#f0f0f0"}
OTHER_CSS = "#888888"  # a colour name OTIO does not know
UNKNOWN_CSS = "#3a3d44"  # a distance the timeline does not carry


def marker_css(name: str) -> str:
    return MARKER_CSS.get(name.upper(), OTHER_CSS)


def scene_anchor(index: int) -> str:
    """The id of scene `index`'s row ("s001"), the target of every link to it."""
    return scene_label(index).lower()
