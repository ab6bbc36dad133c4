"""Report, the distance heat map: its layout, its images and its hover values.

The matrix and its legend are PNGs painted with the colour map `scenesem distance` uses
(`colours.distance_colormap`), so both heat maps read the same; `templates/heatmap.html.j2`
places them with scene keyframes along both axes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scenesem_otio.core.colours import distance_colormap
from scenesem_otio.core.scenes import parse_sample_aspect, scene_label
from scenesem_otio.report.gather import Film
from scenesem_otio.report.marks import UNKNOWN_CSS, scene_anchor
from scenesem_otio.report.thumbnails import scene_keyframe

if TYPE_CHECKING:
    import numpy as np

    from scenesem_otio.media.thumbnails import ShotThumbs

MAX_HOVER_SCENES = 400  # above this the page carries no hover values, to stay small


@dataclass(frozen=True)
class HeatLayout:
    """Pixel layout of the heat map: matrix cells, and keyframes on every `stride`-th scene."""

    n: int  # scenes
    cell: int  # px per scene in the matrix
    stride: int  # scenes per axis keyframe, so keyframes stay legible
    size: int  # px of the matrix side
    top_h: int  # px height of the top axis
    left_w: int  # px width of the left axis

    @property
    def axis_len(self) -> int:
        return self.stride * self.cell


@dataclass(frozen=True)
class AxisFrame:
    """A scene keyframe on the top or left axis, linked to its row."""

    anchor: str
    label: str
    title: str
    jpeg: bytes
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True)
class Heatmap:
    """Everything the heat-map section shows."""

    layout: HeatLayout
    axes: list[AxisFrame]
    matrix_png: bytes
    legend_png: bytes
    vmax: float  # D at the far end of the colour scale
    complete: bool  # every pair known (else unknown pairs are grey)
    values: list[list[float | None]] | None  # hover readout, None above MAX_HOVER_SCENES

    @property
    def n_images(self) -> int:
        return len(self.axes) + 2


def heatmap(film: Film, thumbs: Mapping[int, ShotThumbs]) -> Heatmap | None:
    """The heat map of the film's distances; None when the timeline carries none."""
    import numpy as np

    if film.dist is None:
        return None
    lay = _layout(film)
    known = ~np.isnan(film.dist)
    vmax = _scale(film.dist, known)
    return Heatmap(layout=lay, axes=_axes(film, thumbs, lay),
                   matrix_png=_png(film.dist, vmax), legend_png=_png(
                       np.linspace(0.0, 1.0, 256)[None, :], 1.0),
                   vmax=vmax, complete=bool(known.all()), values=_values(film.dist, known))


def _layout(film: Film) -> HeatLayout:
    """Cells that fit ~720 px, axis keyframes ≥ 22 px apart, in the film's aspect ratio."""
    n = len(film.scenes)
    cell = int(min(56, max(3, 720 // max(n, 1))))
    stride = max(1, math.ceil(22 / cell))
    ah = 9 / 16
    meta_w, meta_h = film.meta.get("width"), film.meta.get("height")
    if isinstance(meta_w, (int, float)) and isinstance(meta_h, (int, float)) and meta_w > 0 \
            and meta_h > 0:
        # the keyframes are thumbnails of the picture as shown (archive media: 64/45 pixels)
        shown_w = float(meta_w) * float(parse_sample_aspect(film.meta.get("sample_aspect")))
        ah = min(4.0, max(0.25, float(meta_h) / shown_w))
    axis_len = stride * cell
    return HeatLayout(n=n, cell=cell, stride=stride, size=n * cell, top_h=round(axis_len * ah),
                      left_w=round(axis_len / ah))


def _axes(film: Film, thumbs: Mapping[int, ShotThumbs], lay: HeatLayout) -> list[AxisFrame]:
    """Scene keyframes along the top and the left of the matrix (top first, per scene)."""
    out = []
    for i in range(0, lay.n, lay.stride):
        key = scene_keyframe(film, film.scenes[i], thumbs)
        if key is None:
            continue
        span = min(lay.axis_len, lay.size - i * lay.cell)  # the last stops at the edge
        anchor, label = scene_anchor(i), scene_label(i)
        title = f"{label} {film.tc(film.scenes[i].start)}"
        out.append(AxisFrame(anchor, label, title, key, left=lay.left_w + i * lay.cell, top=0,
                             width=span, height=lay.top_h))
        out.append(AxisFrame(anchor, label, title, key, left=0, top=lay.top_h + i * lay.cell,
                             width=lay.left_w, height=span))
    return out


def _scale(dist: np.ndarray, known: np.ndarray) -> float:
    """The largest known distance between two different scenes: the far end of the scale."""
    import numpy as np

    off = known & ~np.eye(len(dist), dtype=bool)
    vmax = float(dist[off].max()) if off.any() else 1.0
    return vmax if vmax > 1e-9 else 1.0


def _png(values: np.ndarray, vmax: float) -> bytes:
    """`values` one pixel each, 0 -> near, `vmax` -> far, NaN (unknown) grey."""
    from matplotlib.image import imsave

    buf = io.BytesIO()
    imsave(buf, values, cmap=distance_colormap().with_extremes(bad=UNKNOWN_CSS), vmin=0.0,
           vmax=vmax, format="png")
    return buf.getvalue()


def _values(dist: np.ndarray, known: np.ndarray) -> list[list[float | None]] | None:
    """D per pair to 3 decimals (None: unknown) for the hover readout."""
    n = len(dist)
    if n > MAX_HOVER_SCENES:
        return None
    return [[round(float(dist[i, j]), 3) if known[i, j] else None for j in range(n)]
            for i in range(n)]
