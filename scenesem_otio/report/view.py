"""Report, what the page shows: a `Film` and its thumbnails -> plain values for the templates.

Numbers are computed and texts chosen here; the templates only place them, escaping every
value (scene names and run facts come from editors' timelines and may hold anything).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scenesem_otio.core.scenes import Scene, Shot, scene_label, scene_title
from scenesem_otio.report.chart import Chart, chart
from scenesem_otio.report.count_plot import (
    CountPlot,
    count_plot,
    criterion_curve,
    finite_number,
    whole_number,
)
from scenesem_otio.report.gather import Film
from scenesem_otio.report.heat import Heatmap, heatmap
from scenesem_otio.report.marks import marker_css, scene_anchor

if TYPE_CHECKING:
    from scenesem_otio.media.thumbnails import ShotThumbs

BAR_FULL = 0.5  # Δ previous that fills the bar: distances rarely pass it
SCENE_COUNT = "scene count"  # the facts row of how N was chosen


@dataclass(frozen=True)
class Header:
    name: str
    n_scenes: int
    n_shots: int
    minutes: float
    fps: float
    start_tc: str
    drop: bool
    threshold: float | None
    model: str | None
    walls: list[tuple[str, str]]  # (what, how long) of the cut


@dataclass(frozen=True)
class Thumb:
    jpeg: bytes
    tc: str


@dataclass(frozen=True)
class ShotView:
    number: int  # 1-based, over the film
    title: str
    seconds: float
    thumbs: list[Thumb] | None  # None: no frames were decoded for it


@dataclass(frozen=True)
class Near:
    anchor: str
    label: str
    distance: float


@dataclass(frozen=True)
class SceneRow:
    """One storyboard row."""

    number: int  # 1-based
    anchor: str
    label: str
    marker: str  # the colour name the editor sees
    colour: str  # ... and its CSS
    title: str
    description: str
    tc_in: str
    tc_out: str
    seconds: float
    n_frames: int
    distance_prev: float | None
    boundary_score: float | None
    nearest: list[Near]
    shots: list[ShotView]

    @property
    def bar_percent(self) -> float:
        return min(100.0, 100 * (self.distance_prev or 0.0) / BAR_FULL)


@dataclass(frozen=True)
class Page:
    """The whole page."""

    title: str
    source: str
    written: str  # local date and time
    header: Header
    n_scored_cuts: int
    chart: Chart
    rows: list[SceneRow]
    heat: Heatmap | None
    tool: str  # what wrote the timeline, for the note when it has no distances
    facts: list[tuple[str, str]]
    count: CountPlot | None = None  # the criterion over N, when the film chose N
    count_fact: str = SCENE_COUNT  # the facts row the plot goes under

    @property
    def n_images(self) -> int:
        shots = sum(len(s.thumbs or ()) for r in self.rows for s in r.shots)
        return shots + (self.heat.n_images if self.heat else 0) + (1 if self.count else 0)


def page(film: Film, thumbs: Mapping[int, ShotThumbs], extra: Mapping[str, Any] | None = None,
         video: str | None = None) -> Page:
    """Everything the page shows, from the film, its thumbnails and the caller's facts."""
    facts = facts_rows(film, extra, video)
    return Page(title=film.name, source=film.source, written=time.strftime("%Y-%m-%d %H:%M"),
                header=header(film, facts), n_scored_cuts=len(film.cuts) or len(film.shots) - 1,
                chart=chart(film), rows=storyboard(film, thumbs), heat=heatmap(film, thumbs),
                tool=str(film.meta.get("tool") or "no scenesem cut"), facts=facts,
                count=count_plot(film.meta.get("scene_count")))


def header(film: Film, facts: list[tuple[str, str]]) -> Header:
    fact = dict(facts)
    return Header(name=film.name, n_scenes=len(film.scenes), n_shots=len(film.shots),
                  minutes=film.seconds(film.n_frames) / 60, fps=float(film.rate),
                  start_tc=film.tc(0), drop=film.drop, model=fact.get("model"),
                  # θ heads the page only where it chose the cuts (not with --scenes)
                  threshold=None if film.meta.get("n_scenes_requested") else film.threshold,
                  walls=[(k, fact[k]) for k in ("cut wall time", "wall time") if k in fact])


def storyboard(film: Film, thumbs: Mapping[int, ShotThumbs]) -> list[SceneRow]:
    """A row per scene with the shots that start inside it (shots are sorted, as scenes)."""
    rows = []
    k = 0
    for i, scene in enumerate(film.scenes):
        while k < len(film.shots) and film.shots[k].end <= scene.start:
            k += 1
        shots = []
        while k < len(film.shots) and film.shots[k].start < scene.end:
            shots.append(shot_view(film, k, film.shots[k], thumbs))
            k += 1
        rows.append(scene_row(film, i, scene, shots))
    return rows


def scene_row(film: Film, i: int, scene: Scene, shots: list[ShotView]) -> SceneRow:
    return SceneRow(
        number=i + 1, anchor=scene_anchor(i), label=scene_label(i), marker=film.colours[i],
        colour=marker_css(film.colours[i]), title=scene.title or scene_title(i),
        description=scene.description, tc_in=film.tc(scene.start), tc_out=film.tc(scene.end),
        seconds=film.seconds(scene.n_frames), n_frames=scene.n_frames,
        distance_prev=scene.distance_prev, boundary_score=scene.boundary_score,
        nearest=[Near(scene_anchor(j), scene_label(j), d) for j, d in film.nearest[i]],
        shots=shots)


def shot_view(film: Film, k: int, shot: Shot, thumbs: Mapping[int, ShotThumbs]) -> ShotView:
    th = thumbs.get(shot.start)
    seconds = film.seconds(shot.n_frames)
    title = (f"shot {k + 1} · {film.tc(shot.start)} – {film.tc(shot.end)} · "
             f"{shot.n_frames} fr, {seconds:.2f} s")
    pictures = None if th is None else [Thumb(j, film.tc(f)) for f, j in zip(th.frames, th.jpegs)]
    return ShotView(number=k + 1, title=title, seconds=seconds, thumbs=pictures)


# Metadata keys shown in their own rows (or not at all); every other plain value follows them.
_SHOWN = {"tool", "version", "model", "head", "precision", "threshold", "threshold_source",
          "window", "min_scene_s", "n_scenes_requested", "shots_from", "detector", "sampling",
          "level", "fps", "n_frames", "start_timecode", "drop_frame", "width", "height",
          "n_scenes", "shot_cuts", "boundary_scores", "wall_s"}


def scene_count_text(count: Mapping[str, Any], around: int = 8) -> str:
    """How N was chosen from the film and how clear the choice was (issue 25): the criterion at
    every N tried near the pick, the pick in brackets (entries that are not numbers left out)."""
    chosen = whole_number(count.get("chosen"))
    curve = criterion_curve(count.get("curve"))
    keys = list(curve)
    at = keys.index(chosen) if chosen in keys else 0
    shown = keys[max(0, at - around):at + around + 1]
    points = ", ".join(f"[{k}: {curve[k]:.3f}]" if k == chosen else f"{k}: {curve[k]:.3f}"
                       for k in shown)
    margin = finite_number(count.get("margin")) or 0.0
    return (f"N = {count.get('chosen')} by {count.get('criterion')}, margin {margin:.3f} over "
            f"the next best N; over N: {points}")


def facts_rows(film: Film, extra: Mapping[str, Any] | None, video: str | None
               ) -> list[tuple[str, str]]:
    """The run's facts: the cut's parameters from metadata, then what the caller adds."""
    meta = film.meta
    rows: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if value is None or value == "" or value == []:
            return
        rows.append((key, f"{value:.6g}" if isinstance(value, float) else str(value)))

    add("tool", " ".join(str(x) for x in (meta.get("tool"), meta.get("version")) if x))
    for key, name in (("model", "model"), ("head", "head"), ("precision", "precision"),
                      ("θ (threshold)", "threshold"), ("θ from", "threshold_source"),
                      ("window (shots)", "window"), ("min scene (s)", "min_scene_s"),
                      ("scenes requested", "n_scenes_requested")):
        add(key, meta.get(name))
    if isinstance(meta.get("scene_count"), Mapping):
        add(SCENE_COUNT, scene_count_text(meta["scene_count"]))
    add("shots from", meta.get("shots_from") or meta.get("detector"))
    sampling = meta.get("sampling")
    if isinstance(sampling, Mapping):
        add("sampling", ", ".join(f"{k} {v}" for k, v in sampling.items()))
    add("level", meta.get("level"))
    add("media", video or film.media)
    add("media rate", f"{film.rate.numerator}/{film.rate.denominator} "
                      f"({float(film.rate):.3f} fps)")
    add("start timecode", f"{film.tc(0)}{' drop-frame' if film.drop else ''}")
    add("frames", f"{film.n_frames} ({film.seconds(film.n_frames):.2f} s)")
    if meta.get("width") and meta.get("height"):
        add("size", f"{meta['width']}x{meta['height']}")
    if isinstance(meta.get("wall_s"), (int, float)):
        add("cut wall time", f"{float(meta['wall_s']):.1f} s")
    for key, value in meta.items():
        if key not in _SHOWN and not isinstance(value, (list, Mapping)):
            add(key, value)
    for key, value in (extra or {}).items():
        add(key, value)
    return rows
