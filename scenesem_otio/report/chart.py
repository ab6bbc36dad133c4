"""Report, the boundary-score chart: where every stem, line and block lands in the SVG.

Only geometry and text here; `templates/chart.svg.j2` draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scenesem_otio.core.scenes import scene_label
from scenesem_otio.report.gather import Film
from scenesem_otio.report.marks import marker_css, scene_anchor


@dataclass(frozen=True)
class ChartGeometry:
    """Where a frame and a score land in the SVG."""

    n: int  # frames across the plot (at least 1)
    tick: float  # score between grid lines
    y_max: float  # score at the top of the plot
    w: int = 1200
    h: int = 250
    left: int = 46
    right: int = 12
    top: int = 14
    plot_h: int = 160
    band_h: int = 22

    @property
    def plot_w(self) -> int:
        return self.w - self.left - self.right

    @property
    def band_y(self) -> int:
        return self.top + self.plot_h + 8

    @property
    def band_end(self) -> int:
        return self.band_y + self.band_h

    def x(self, frame: int) -> float:
        return self.left + self.plot_w * frame / self.n

    def y(self, score: float) -> float:
        return self.top + self.plot_h * (1.0 - min(max(score / self.y_max, 0.0), 1.0))


@dataclass(frozen=True)
class GridLine:
    y: float
    score: float


@dataclass(frozen=True)
class Tick:
    """A timecode under the scene band."""

    x: float
    anchor: str  # SVG text-anchor: the last ones end at the tick, not centre on it
    label: str


@dataclass(frozen=True)
class Stem:
    """A scored shot cut; `scene` is the row it opens when it was chosen, else None."""

    x: float
    y: float
    score: float
    scene: SceneMark | None = None


@dataclass(frozen=True)
class SceneMark:
    """What links a chart element to its scene row."""

    anchor: str
    label: str
    colour: str
    tc: str  # where the scene starts


@dataclass(frozen=True)
class Block:
    """A scene in the band under the plot."""

    x0: float
    x1: float
    opacity: float
    scene: SceneMark
    tc_out: str

    @property
    def width(self) -> float:
        return max(self.x1 - self.x0 - 0.6, 0.6)

    @property
    def labelled(self) -> bool:
        return self.x1 - self.x0 > 34


@dataclass(frozen=True)
class Chart:
    """Everything the chart shows."""

    geo: ChartGeometry
    grid: list[GridLine]
    ticks: list[Tick]
    stems: list[Stem]  # empty: the timeline has no boundary scores
    blocks: list[Block]
    threshold: float | None
    threshold_note: str  # why θ did not choose the cuts, if it did not
    tool: str

    @property
    def plain(self) -> list[Stem]:
        return [s for s in self.stems if s.scene is None]

    @property
    def chosen(self) -> list[Stem]:
        return [s for s in self.stems if s.scene is not None]


def chart(film: Film) -> Chart:
    """Boundary score at every shot cut, θ, chosen cuts coloured and linked, and a band of
    scenes in their marker colours underneath."""
    geo = _geometry(film)
    n_req = film.meta.get("n_scenes_requested")
    return Chart(geo=geo, grid=_grid(geo), ticks=_ticks(film, geo), stems=_stems(film, geo),
                 blocks=_blocks(film, geo), threshold=film.threshold,
                 threshold_note=f" (not used: --scenes {n_req})" if n_req else "",
                 tool=str(film.meta.get("tool") or "unknown tool"))


def _geometry(film: Film) -> ChartGeometry:
    """Scores live in [0, 1]; an untrained model's stay small, so the axis ends at a tenth
    above the largest score or θ, on a round tick."""
    peak = min(1.0, 1.1 * max([*film.scores, film.threshold or 0.0, 0.02]))
    tick = next(t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25) if peak / t <= 6)
    y_max = min(1.0, math.ceil(peak / tick) * tick)
    return ChartGeometry(n=max(film.n_frames, 1), tick=tick, y_max=y_max)


def _grid(geo: ChartGeometry) -> list[GridLine]:
    """Horizontal grid lines with their scores, so stem heights can be read."""
    return [GridLine(geo.y(g), g)
            for g in (k * geo.tick for k in range(round(geo.y_max / geo.tick) + 1))]


def _nice_step(span_s: float, target: int = 8) -> float:
    raw = span_s / max(target, 1)
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if step >= raw:
            return float(step)
    return 3600.0 * math.ceil(raw / 3600)


def _ticks(film: Film, geo: ChartGeometry) -> list[Tick]:
    """Timecode ticks at round seconds, so editors can find a cut."""
    out = []
    step = _nice_step(film.seconds(geo.n))
    t = 0.0
    while t <= film.seconds(geo.n) + 1e-9:
        frame = round(t * film.rate)
        anchor = "end" if geo.x(frame) > geo.w - geo.right - 30 else "middle"
        out.append(Tick(geo.x(frame), anchor, film.tc(frame)[:8]))
        t += step
    return out


def _mark(film: Film, i: int) -> SceneMark:
    return SceneMark(anchor=scene_anchor(i), label=scene_label(i),
                     colour=marker_css(film.colours[i]), tc=film.tc(film.scenes[i].start))


def _stems(film: Film, geo: ChartGeometry) -> list[Stem]:
    """A stem per scored cut; those that start a scene carry its mark."""
    chosen = {s.start: i for i, s in enumerate(film.scenes)}
    return [Stem(geo.x(f), geo.y(s), s, _mark(film, chosen[f]) if f in chosen else None)
            for f, s in zip(film.cuts, film.scores)]


def _blocks(film: Film, geo: ChartGeometry) -> list[Block]:
    return [Block(geo.x(s.start), geo.x(s.end), 0.75 if i % 2 == 0 else 0.5, _mark(film, i),
                  film.tc(s.end))
            for i, s in enumerate(film.scenes)]
