"""The colour map of every distance heat map, chosen once.

`scenesem distance` (matplotlib plot) and the HTML report (matrix image) both draw scene
distances; readers compare them side by side, so near and far must look the same in both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.colors import Colormap

DISTANCE_CMAP = "magma_r"  # matplotlib name: near (D = 0) light, far dark


def distance_colormap() -> Colormap:
    """The matplotlib colour map for D = (1 − cos) / 2 between scenes."""
    import matplotlib

    return matplotlib.colormaps[DISTANCE_CMAP]
