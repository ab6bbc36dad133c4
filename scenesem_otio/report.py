"""Report stage: one self-contained HTML storyboard of a cut, for editors to look at.

Reads what `scenesem cut` wrote (`metadata["scenesem"]` of an .otio/.otioz: shot cuts,
boundary scores, θ, distances, run facts) plus shot thumbnails (`media/thumbnails.py`), and
writes a single page: no network, images as data: URIs, charts as inline SVG/PNG.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenesem_otio.adapters.formats import FORMATS
from scenesem_otio.adapters.frames import frames
from scenesem_otio.core.errors import MediaError, ReportError, TimelineError
from scenesem_otio.core.scenes import Scene, Shot

if TYPE_CHECKING:
    import numpy as np
    import opentimelineio as otio

    from scenesem_otio.media.thumbnails import ShotThumbs

# Formats we read that keep OTIO metadata, and those that cannot carry it.
WITH_METADATA = tuple(s for s, f in FORMATS.items() if f.keeps_metadata)
WITHOUT_METADATA = tuple(s for s, f in FORMATS.items() if not f.keeps_metadata)
OUTPUTS = (".html", ".htm")

MARKER_CSS = {"RED": "#e5484d", "YELLOW": "#f5c518", "GREEN": "#46a758", "BLUE": "#3e8eed",
              "CYAN": "#2ec4d6", "PURPLE": "#8e4ec6", "PINK": "#e93d82", "ORANGE": "#f76b15",
              "MAGENTA": "#d23fd2", "BLACK": "#111111", "WHITE": "#f0f0f0"}
UNKNOWN_CSS = "#3a3d44"


@dataclass(frozen=True)
class ReportResult:
    """What `write_report` wrote; `summary()` is the CLI's one line."""

    path: Path
    n_scenes: int
    n_shots: int
    n_images: int
    size_bytes: int
    seconds: float
    decode_seconds: float = 0.0

    def summary(self) -> str:
        decode = f", {self.decode_seconds:.1f} s of it decoding" if self.decode_seconds else ""
        return (f"report: {self.n_scenes} scenes, {self.n_shots} shots, {self.n_images} "
                f"images, {self.size_bytes / 1e6:.1f} MB in {self.seconds:.1f} s{decode} "
                f"-> {self.path}")


@dataclass
class Film:
    """Everything the page shows, gathered from one timeline (frames from the media's start)."""

    name: str
    source: str
    meta: dict
    rate: Fraction
    drop: bool
    base: int  # start timecode as frames
    n_frames: int
    scenes: list[Scene]
    shots: list[Shot]
    colours: list[str]  # marker colour name per scene
    nearest: list[list[tuple[int, float]]]  # per scene: (earlier scene, D)
    cuts: list[int] = field(default_factory=list)  # scored shot cuts (frames)
    scores: list[float] = field(default_factory=list)
    threshold: float | None = None
    dist: np.ndarray | None = None  # NaN where unknown
    dist_full: bool = False
    media: str | None = None

    def tc(self, frame: int) -> str:
        from scenesem_otio.adapters.nle import timecode

        return timecode(self.base + frame, self.rate, self.drop)

    def seconds(self, frames: int) -> float:
        return float(frames / self.rate)


# ---------------------------------------------------------------- reading the timeline


def read_report_timeline(path: str | os.PathLike) -> otio.schema.Timeline:
    """An .otio/.otioz written by scenesem; TimelineError for formats without our metadata."""
    from scenesem_otio.adapters.formats import read_timeline
    from scenesem_otio.adapters.timeline import NS

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in WITHOUT_METADATA:
        raise TimelineError(
            f"{path}: a {suffix} file cannot carry scenesem's metadata (shot cuts, boundary "
            f"scores, distances); give the .otio or .otioz written by `scenesem cut`")
    timeline = read_timeline(path)
    if not _has_metadata(timeline, NS):
        raise TimelineError(f"{path}: no metadata[{NS!r}] in this timeline; give an .otio or "
                            f".otioz written by `scenesem cut` or `scenesem baseline`")
    return timeline


def _has_metadata(timeline: otio.schema.Timeline, ns: str) -> bool:
    meta = timeline.metadata.get(ns)
    return hasattr(meta, "items") and any(k in meta for k in ("tool", "fps", "n_frames"))


def gather(timeline: otio.schema.Timeline, source: str | None = None) -> Film:
    """Scenes, shots, scores, distances and facts of a scenesem timeline."""
    from scenesem_otio.adapters import nle
    from scenesem_otio.adapters.timeline import NS, plain_metadata, timeline_media

    source = source or timeline.name or "timeline"
    if not _has_metadata(timeline, NS):
        raise TimelineError(f"{source}: no metadata[{NS!r}] in this timeline; give an .otio "
                            f"or .otioz written by `scenesem cut` or `scenesem baseline`")
    meta = plain_metadata(timeline.metadata[NS])
    rate, drop = nle.rate_info(timeline)
    base = _start_frame(timeline, float(rate))
    scenes, n_frames = _scenes(timeline, meta, source)
    shots, cuts, scores = _shots_and_scores(timeline, meta, scenes, n_frames, source)
    colours = _marker_colours(timeline, scenes, float(rate), base)
    dist, full, nearest = _distances(scenes, source)
    threshold = (_numbers([meta["threshold"]], float, source, "threshold")[0]
                 if meta.get("threshold") is not None else None)
    media, _ = timeline_media(timeline)
    return Film(name=timeline.name or Path(source).stem, source=source, meta=meta, rate=rate,
                drop=drop, base=base, n_frames=n_frames, scenes=scenes, shots=shots,
                colours=colours, nearest=nearest, cuts=cuts, scores=scores,
                threshold=threshold,
                dist=dist, dist_full=full, media=media)


def _start_frame(timeline: otio.schema.Timeline, fr: float) -> int:
    """The start timecode as frames, so every frame on the page can be shown as timecode."""
    start = timeline.global_start_time
    return frames(start, fr) if start else 0


def _scenes(timeline: otio.schema.Timeline, meta: Mapping, source: str
            ) -> tuple[list[Scene], int]:
    """The scenes and the film's length; a timeline without scenes has nothing to show."""
    from scenesem_otio.adapters.timeline import scenes_from_timeline

    scenes = scenes_from_timeline(timeline, source=source)
    if not scenes:
        raise TimelineError(f"{source}: no scenes in this timeline")
    n_frames = _numbers([meta.get("n_frames") or scenes[-1].end], int, source, "n_frames")[0]
    return scenes, n_frames


def _shots_and_scores(timeline: otio.schema.Timeline, meta: Mapping, scenes: list[Scene],
                      n_frames: int, source: str
                      ) -> tuple[list[Shot], list[int], list[float]]:
    """Every shot (scored cuts, clip edges and scene starts), and the scored cuts with their
    boundary scores; both lists are dropped when their lengths disagree."""
    from scenesem_otio.adapters.timeline import cuts_from_timeline
    from scenesem_otio.core.scenes import shots_from_cuts

    cuts = _numbers(meta.get("shot_cuts"), int, source, "shot_cuts")
    starts = {*cuts, *cuts_from_timeline(timeline, source=source),
              *(s.start for s in scenes)}
    shots = shots_from_cuts(sorted(starts), n_frames)
    scores = _numbers(meta.get("boundary_scores"), float, source, "boundary_scores")
    if len(scores) != len(cuts):
        scores, cuts = [], []
    return shots, cuts, scores


def _marker_colours(timeline: otio.schema.Timeline, scenes: list[Scene], fr: float,
                    base: int) -> list[str]:
    """Each scene's marker colour as the editor left it, else the one `cut` would choose."""
    from scenesem_otio.adapters.timeline import marker_color

    colour_at: dict[int, str] = {}
    for item in timeline.find_clips():
        available = getattr(item.media_reference, "available_range", None)
        start0 = frames(available.start_time, fr) if available else base
        for m in item.markers:
            colour_at.setdefault(frames(m.marked_range.start_time, fr)
                                 - start0, str(m.color))
    return [colour_at.get(s.start) or str(marker_color(s.distance_prev)) for s in scenes]


def _distances(scenes: list[Scene], source: str
               ) -> tuple[np.ndarray | None, bool, list[list[tuple[int, float]]]]:
    """(matrix, full?, nearest earlier per scene): from embeddings when every scene has one,
    else the known pairs only (NaN elsewhere), else no matrix."""
    import numpy as np

    from scenesem_otio.segment.decide import distance_matrix

    dist: np.ndarray | None = None
    full = all(s.embedding for s in scenes) and len(scenes) > 0
    if full:
        dist = distance_matrix(np.asarray([s.embedding for s in scenes], dtype=np.float64))
    nearest = _nearest(scenes, dist, source)
    if dist is None and any(s.distance_prev is not None for s in scenes):
        dist = _known_distances(scenes, nearest)
    return dist, full, nearest


def _nearest(scenes: list[Scene], dist: np.ndarray | None, source: str
             ) -> list[list[tuple[int, float]]]:
    """Per scene, its nearest earlier scenes as `cut` recorded them, else from `dist`."""
    from scenesem_otio.segment.decide import nearest_earlier

    nearest: list[list[tuple[int, float]]] = []
    for i, s in enumerate(scenes):
        entries = [d for d in s.metadata.get("nearest") or []
                   if isinstance(d, Mapping) and "scene" in d and "distance" in d]
        found = [(j, d) for j, d in zip(
            _numbers([d["scene"] for d in entries], int, source, "nearest scene"),
            _numbers([d["distance"] for d in entries], float, source, "nearest distance"))
            if 0 <= j < i]
        if not found and dist is not None:
            found = nearest_earlier(dist, i, 3)
        nearest.append(found)
    return nearest


def _known_distances(scenes: list[Scene], nearest: list[list[tuple[int, float]]]
                     ) -> np.ndarray:
    """Without embeddings: the distances a timeline does carry (to the previous scene and
    the nearest earlier ones), NaN for every other pair."""
    import numpy as np

    n = len(scenes)
    dist = np.full((n, n), np.nan)
    np.fill_diagonal(dist, 0.0)
    for i, s in enumerate(scenes):
        if i and s.distance_prev is not None:
            dist[i, i - 1] = dist[i - 1, i] = s.distance_prev
        for j, d in nearest[i]:
            dist[i, j] = dist[j, i] = d
    return dist


def _numbers(values: Any, kind: type, source: str, what: str) -> list:
    """A metadata list of numbers, or one TimelineError naming the file and the field."""
    if values is None:
        return []
    try:
        out = [kind(v) for v in values]
    except (TypeError, ValueError, OverflowError):
        raise TimelineError(f"{source}: metadata['scenesem'] {what} is not numeric "
                            f"({str(values)[:40]!r})") from None
    if kind is float and not all(math.isfinite(v) for v in out):
        raise TimelineError(f"{source}: metadata['scenesem'] {what} holds a non-finite value")
    return out


# ---------------------------------------------------------------- thumbnails


def thumbnails_for(film: Film, video: str | os.PathLike | None, *, progress: bool = False
                   ) -> dict[int, ShotThumbs]:
    """Decode the film (`video`, else the media the timeline references) for its shots."""
    if video is not None:
        return _thumbnails(film, Path(video), progress)
    if not film.media:
        raise MediaError(f"{film.source}: the timeline references no media file; give the "
                         f"film with --video FILM")
    with _local_media(film) as path:
        if not path.exists():
            raise MediaError(f"{film.source}: its media {film.media} is not there; give the "
                             f"film with --video FILM")
        return _thumbnails(film, path, progress)


@contextlib.contextmanager
def _local_media(film: Film) -> Iterator[Path]:
    """The media as a local file: absolute, beside the timeline, or bundled in an .otioz
    (copied out to a temp file for the decode: PyAV reads paths)."""
    import shutil
    import tempfile
    import zipfile

    media = Path(film.media or "")
    source = Path(film.source)
    if media.is_absolute():
        yield media
        return
    if source.suffix.lower() == ".otioz" and source.is_file():
        with zipfile.ZipFile(source) as zf:
            if media.as_posix() in zf.namelist():
                with tempfile.TemporaryDirectory(prefix="scenesem-report-") as tmp:
                    target = Path(tmp) / media.name
                    with zf.open(media.as_posix()) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    yield target
                    return
    yield (source if source.is_dir() else source.parent) / media


def _thumbnails(film: Film, video: Path, progress: bool) -> dict[int, ShotThumbs]:
    from scenesem_otio.media.probe import probe
    from scenesem_otio.media.thumbnails import thumbnails_from_video

    facts = probe(video)
    if abs(float(facts.fps) - float(film.rate)) > 0.01:
        raise MediaError(f"{video}: {float(facts.fps):.3f} fps, but {film.source} was cut at "
                         f"{float(film.rate):.3f} fps: not the same film")
    expected = film.meta.get("n_frames")
    if expected is not None and int(expected) != facts.n_frames:
        raise MediaError(f"{video}: {facts.n_frames} frames, but {film.source} was cut from a "
                         f"film of {int(expected)} frames: not the same film")
    aspect = facts.width / facts.height if facts.width and facts.height else None
    return thumbnails_from_video(facts.path, film.shots, aspect=aspect, progress=progress)


# ---------------------------------------------------------------- the page


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _colour(name: str) -> str:
    return MARKER_CSS.get(name.upper(), "#888888")


def _label(i: int) -> str:
    return f"S{i + 1:03d}"


CSS = """
:root{--bg:#18191c;--panel:#222429;--fg:#e8e8e8;--mute:#9aa0a6;--line:#34373e;--acc:#4da3ff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
a{color:var(--acc);text-decoration:none}a:hover{text-decoration:underline}
header{padding:18px 24px 10px;border-bottom:1px solid var(--line)}
h1{margin:0 0 4px;font-size:22px;font-weight:600}
h2{margin:0;padding:16px 24px 8px;font-size:16px;font-weight:600;color:var(--mute);
 text-transform:uppercase;letter-spacing:.06em}
.mono,.tc{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.sub{color:var(--mute)}.sub b{color:var(--fg);font-weight:600}
nav{margin-top:8px}nav a{margin-right:16px}
.note{color:var(--mute);padding:0 24px 8px;font-style:italic}
.chart{padding:0 24px}.chart svg{width:100%;height:auto;display:block}
.scene{display:grid;grid-template-columns:300px 1fr;gap:14px;padding:10px 24px 10px 18px;
 border-bottom:1px solid var(--line);border-left:6px solid var(--mk)}
.scene:target{background:#252b36}
.info .id{font-weight:700;font-size:16px;margin-right:6px}
.info .title{color:var(--fg)}
.info div{margin:1px 0}.info .tc{font-size:13px}
.dot{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px;
 vertical-align:baseline}
.bar{display:inline-block;width:70px;height:6px;background:var(--line);margin-left:6px;
 vertical-align:middle;border-radius:3px;overflow:hidden}
.bar i{display:block;height:100%;background:var(--mk)}
.desc{color:var(--mute);font-size:13px;max-height:6em;overflow:auto}
.strip{display:flex;flex-wrap:wrap;gap:6px;align-content:flex-start}
.shot{margin:0;background:var(--panel);padding:3px;border-radius:3px}
.shot .imgs{display:flex;gap:2px}
.shot img{display:block;width:96px;height:auto;border-radius:1px;background:#000}
.shot img:hover{position:relative;z-index:2;transform:scale(2.2);box-shadow:0 4px 18px #000}
.shot figcaption{font-size:11px;color:var(--mute);padding-top:2px}
.missing{width:96px;height:54px;display:flex;align-items:center;justify-content:center;
 color:var(--mute);font-size:11px;background:#000}
.heatwrap{padding:0 24px 12px;overflow:auto}
.heat{position:relative}
.heat .ax{position:absolute;display:block;overflow:hidden;background:#000}
.heat .ax img{display:block;width:100%;height:100%;object-fit:cover}
.heat .matrix{position:absolute;image-rendering:pixelated;cursor:crosshair}
.legend{display:flex;align-items:center;gap:8px;padding:6px 24px;color:var(--mute)}
.legend img{width:220px;height:12px;image-rendering:pixelated}
#hover{min-height:1.4em;padding:0 24px;color:var(--fg)}
table.facts{border-collapse:collapse;margin:0 24px 24px}
.facts td{padding:3px 14px 3px 0;border-bottom:1px solid var(--line);vertical-align:top}
.facts td:first-child{color:var(--mute);white-space:nowrap}
footer{padding:12px 24px 24px;color:var(--mute);font-size:12px}
"""


def _facts_rows(film: Film, extra: Mapping[str, Any] | None, video: str | None
                ) -> list[tuple[str, str]]:
    """The run's facts: the cut's parameters from metadata, then what the caller adds."""
    meta = film.meta
    rows: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if value is None or value == "" or value == []:
            return
        if isinstance(value, float):
            value = f"{value:.6g}"
        rows.append((key, str(value)))

    add("tool", " ".join(str(x) for x in (meta.get("tool"), meta.get("version")) if x))
    add("model", meta.get("model"))
    add("head", meta.get("head"))
    add("precision", meta.get("precision"))
    add("θ (threshold)", meta.get("threshold"))
    add("θ from", meta.get("threshold_source"))
    add("window (shots)", meta.get("window"))
    add("min scene (s)", meta.get("min_scene_s"))
    add("scenes requested", meta.get("n_scenes_requested"))
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
    known = {"tool", "version", "model", "head", "precision", "threshold", "threshold_source",
             "window", "min_scene_s", "n_scenes_requested", "shots_from", "detector",
             "sampling", "level", "fps", "n_frames", "start_timecode", "drop_frame", "width",
             "height", "n_scenes", "shot_cuts", "boundary_scores", "wall_s"}
    for key, value in meta.items():
        if key not in known and not isinstance(value, (list, Mapping)):
            add(key, value)
    for key, value in (extra or {}).items():
        add(key, value)
    return rows


def _header(film: Film, facts: list[tuple[str, str]]) -> str:
    n_sc, n_sh = len(film.scenes), len(film.shots)
    fact = dict(facts)
    parts = [f"<b>{n_sc}</b> scene{'s' if n_sc != 1 else ''}",
             f"<b>{n_sh}</b> shot{'s' if n_sh != 1 else ''}",
             f"<b>{film.seconds(film.n_frames) / 60:.1f}</b> min",
             f"<b>{float(film.rate):.3f}</b> fps",
             f"start <b class=tc>{_esc(film.tc(0))}</b>{' DF' if film.drop else ''}"]
    if film.threshold is not None:
        parts.append(f"θ <b>{film.threshold:.3f}</b>")
    if "model" in fact:
        parts.append(f"model <b>{_esc(fact['model'])}</b>")
    for key in ("cut wall time", "wall time"):
        if key in fact:
            parts.append(f"{_esc(key)} <b>{_esc(fact[key])}</b>")
    nav = ('<nav><a href="#curve">Boundary scores</a><a href="#storyboard">Storyboard</a>'
           '<a href="#heatmap">Distances</a><a href="#facts">Run facts</a></nav>')
    return (f"<header><h1>{_esc(film.name)}</h1><div class=sub>{' · '.join(parts)}</div>"
            f"{nav}</header>")


def _nice_step(span_s: float, target: int = 8) -> float:
    raw = span_s / max(target, 1)
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if step >= raw:
            return float(step)
    return 3600.0 * math.ceil(raw / 3600)


@dataclass(frozen=True)
class _Chart:
    """Geometry of the boundary-score chart: where a frame and a score land in the SVG."""

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

    def x(self, frame: int) -> float:
        return self.left + self.plot_w * frame / self.n

    def y(self, score: float) -> float:
        return self.top + self.plot_h * (1.0 - min(max(score / self.y_max, 0.0), 1.0))


def _chart(film: Film) -> _Chart:
    """Scores live in [0, 1]; an untrained model's stay small, so the axis ends at a tenth
    above the largest score or θ, on a round tick."""
    peak = min(1.0, 1.1 * max([*film.scores, film.threshold or 0.0, 0.02]))
    tick = next(t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25) if peak / t <= 6)
    y_max = min(1.0, math.ceil(peak / tick) * tick)
    return _Chart(n=max(film.n_frames, 1), tick=tick, y_max=y_max)


def _curve_svg(film: Film) -> str:
    """Boundary score at every shot cut (stems), θ dashed, chosen cuts coloured and linked,
    and a band of scenes in their marker colours underneath."""
    c = _chart(film)
    out = [f'<svg viewBox="0 0 {c.w} {c.h}" xmlns="http://www.w3.org/2000/svg" role="img" '
           f'aria-label="boundary scores" font-family="system-ui,sans-serif" font-size="11">']
    out += _curve_grid(c)
    out += _curve_time_axis(film, c)
    if film.scores:
        out += _curve_stems(film, c)
        out += _curve_threshold(film, c)
    else:
        out.append(f'<text x="{c.left + c.plot_w / 2}" y="{c.top + c.plot_h / 2}" '
                   f'fill="#9aa0a6" text-anchor="middle" font-size="14">no boundary scores '
                   f'in this timeline ({_esc(film.meta.get("tool") or "unknown tool")})</text>')
    out += _curve_scene_band(film, c)
    out.append("</svg>")
    return "".join(out)


def _curve_grid(c: _Chart) -> list[str]:
    """Horizontal grid lines with their scores, so stem heights can be read."""
    return [f'<line x1="{c.left}" x2="{c.w - c.right}" y1="{c.y(g):.1f}" y2="{c.y(g):.1f}" '
            f'stroke="#34373e" stroke-width="1"/>'
            f'<text x="{c.left - 6}" y="{c.y(g) + 4:.1f}" fill="#9aa0a6" '
            f'text-anchor="end">{g:.3g}</text>'
            for g in (k * c.tick for k in range(round(c.y_max / c.tick) + 1))]


def _curve_time_axis(film: Film, c: _Chart) -> list[str]:
    """Timecode ticks under the scene band at round seconds, so editors can find a cut."""
    out = []
    band_end = c.band_y + c.band_h
    step = _nice_step(film.seconds(c.n))
    t = 0.0
    while t <= film.seconds(c.n) + 1e-9:
        frame = round(t * film.rate)
        anchor = "end" if c.x(frame) > c.w - c.right - 30 else "middle"
        out.append(f'<line x1="{c.x(frame):.1f}" x2="{c.x(frame):.1f}" y1="{band_end}" '
                   f'y2="{band_end + 5}" stroke="#9aa0a6"/>'
                   f'<text x="{c.x(frame):.1f}" y="{band_end + 17}" fill="#9aa0a6" '
                   f'text-anchor="{anchor}">{_esc(film.tc(frame)[:8])}</text>')
        t += step
    return out


def _curve_stems(film: Film, c: _Chart) -> list[str]:
    """A grey stem per scored cut not chosen, and a coloured one linked to its scene row
    per chosen cut (drawn last, on top)."""
    chosen = {s.start: i for i, s in enumerate(film.scenes)}
    pairs = list(zip(film.cuts, film.scores))
    plain = "".join(f"M{c.x(f):.1f} {c.y(0):.1f}V{c.y(s):.1f}"
                    for f, s in pairs if f not in chosen)
    dots = "".join(f"M{c.x(f):.1f} {c.y(s):.1f}h0" for f, s in pairs if f not in chosen)
    out = [f'<path d="{plain}" stroke="#7a7f88" stroke-width="1.2" fill="none"/>',
           f'<path d="{dots}" stroke="#b9bec7" stroke-width="3" stroke-linecap="round"/>']
    for f, s in pairs:
        if f in chosen:
            i = chosen[f]
            col = _colour(film.colours[i])
            out.append(
                f'<a href="#s{i + 1:03d}"><title>{_label(i)} at {_esc(film.tc(f))}: '
                f'boundary score {s:.3f}</title>'
                f'<line x1="{c.x(f):.1f}" x2="{c.x(f):.1f}" y1="{c.y(0):.1f}" '
                f'y2="{c.y(s):.1f}" stroke="{col}" stroke-width="2"/>'
                f'<circle cx="{c.x(f):.1f}" cy="{c.y(s):.1f}" r="4.5" fill="{col}" '
                f'stroke="#18191c"/></a>')
    return out


def _curve_threshold(film: Film, c: _Chart) -> list[str]:
    """θ as a dashed line, noting when --scenes N chose the cuts instead."""
    if film.threshold is None:
        return []
    n_req = film.meta.get("n_scenes_requested")
    theta_note = f" (not used: --scenes {n_req})" if n_req else ""
    y = c.y(film.threshold)
    return [f'<line x1="{c.left}" x2="{c.w - c.right}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#4da3ff" stroke-width="1.5" '
            f'stroke-dasharray="6 4"/><text x="{c.w - c.right - 4}" '
            f'y="{y - 5:.1f}" fill="#4da3ff" text-anchor="end">'
            f'θ = {film.threshold:.3f}{theta_note}</text>']


def _curve_scene_band(film: Film, c: _Chart) -> list[str]:
    """Scenes as coloured blocks under the plot, each linked to its row."""
    out = []
    for i, s in enumerate(film.scenes):
        x0, x1 = c.x(s.start), c.x(s.end)
        col = _colour(film.colours[i])
        out.append(f'<a href="#s{i + 1:03d}"><title>{_label(i)} {_esc(film.tc(s.start))} – '
                   f'{_esc(film.tc(s.end))}</title><rect x="{x0:.1f}" y="{c.band_y}" '
                   f'width="{max(x1 - x0 - 0.6, 0.6):.1f}" height="{c.band_h}" fill="{col}" '
                   f'fill-opacity="{0.75 if i % 2 == 0 else 0.5}"/>')
        if x1 - x0 > 34:
            out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{c.band_y + 15}" fill="#111" '
                       f'text-anchor="middle" font-weight="600">{_label(i)}</text>')
        out.append("</a>")
    return out


def _shot_figure(film: Film, k: int, shot: Shot, thumbs: Mapping[int, ShotThumbs],
                 scene_label: str) -> tuple[str, int]:
    th = thumbs.get(shot.start)
    dur = film.seconds(shot.n_frames)
    title = (f"shot {k + 1} · {film.tc(shot.start)} – {film.tc(shot.end)} · "
             f"{shot.n_frames} fr, {dur:.2f} s")
    if th is None:
        body = "<div class=missing>no frames</div>"
        n_img = 0
    else:
        body = "".join(
            f'<img src="{_data_uri(j, "image/jpeg")}" alt="{scene_label} shot {k + 1} frame '
            f'{_esc(film.tc(f))}" title="{_esc(film.tc(f))}">'
            for f, j in zip(th.frames, th.jpegs))
        n_img = len(th.jpegs)
    return (f'<figure class=shot title="{_esc(title)}"><div class=imgs>{body}</div>'
            f'<figcaption>#{k + 1} · {dur:.1f} s</figcaption></figure>', n_img)


def _storyboard(film: Film, thumbs: Mapping[int, ShotThumbs]) -> tuple[str, int]:
    out = []
    n_images = 0
    k = 0
    for i, s in enumerate(film.scenes):
        col = _colour(film.colours[i])
        label = _label(i)
        while k < len(film.shots) and film.shots[k].end <= s.start:
            k += 1
        figures = []
        j = k
        while j < len(film.shots) and film.shots[j].start < s.end:
            fig, n_img = _shot_figure(film, j, film.shots[j], thumbs, label)
            figures.append(fig)
            n_images += n_img
            j += 1
        k = j
        n_shots = len(figures)
        dprev = ("—" if s.distance_prev is None else
                 f'<b>{s.distance_prev:.3f}</b><span class=bar><i style="width:'
                 f'{min(100.0, 100 * s.distance_prev / 0.5):.0f}%"></i></span>')
        near = ", ".join(f'<a href="#s{j2 + 1:03d}">{_label(j2)}</a> {d:.3f}'
                         for j2, d in film.nearest[i]) or "—"
        score = "—" if s.boundary_score is None else f"{s.boundary_score:.3f}"
        title = s.title or f"Scene {i + 1:03d}"
        desc = f"<div class=desc>{_esc(s.description)}</div>" if s.description else ""
        out.append(
            f'<section class=scene id="s{i + 1:03d}" data-scene="{i + 1}" '
            f'style="--mk:{col}"><div class=info>'
            f'<div><span class=dot style="background:{col}" '
            f'title="marker {_esc(film.colours[i])}"></span>'
            f'<a class=id href="#s{i + 1:03d}">{label}</a>'
            f'<span class=title>{_esc(title)}</span></div>'
            f'<div class=tc title="out = first frame after the scene, as in an EDL">'
            f'IN {_esc(film.tc(s.start))} · OUT {_esc(film.tc(s.end))}</div>'
            f'<div>{film.seconds(s.n_frames):.2f} s · {s.n_frames} fr · {n_shots} '
            f'shot{"s" if n_shots != 1 else ""}</div>'
            f'<div>Δ previous {dprev}</div>'
            f'<div>boundary score {score}</div>'
            f'<div>nearest earlier: {near}</div>{desc}'
            f'</div><div class=strip>{"".join(figures)}</div></section>')
    return "".join(out), n_images


def _scene_keyframe(film: Film, scene: Scene, thumbs: Mapping[int, ShotThumbs]
                    ) -> bytes | None:
    """The middle frame of the scene's middle shot: its face on the heat-map axes."""
    inside = [sh for sh in film.shots if scene.start <= sh.start < scene.end]
    if not inside:
        return None
    th = thumbs.get(inside[(len(inside) - 1) // 2].start)
    if th is None or not th.jpegs:
        return None
    return th.jpegs[len(th.jpegs) // 2]


def _viridis(values: np.ndarray) -> np.ndarray:
    """uint8 [..., 3] RGB colours for values in [0, 1]: 0 bright (near), 1 dark (far)."""
    import cv2
    import numpy as np

    v = np.round(255 * (1.0 - np.clip(values, 0.0, 1.0))).astype(np.uint8)
    bgr = cv2.applyColorMap(v.reshape(-1, 1), cv2.COLORMAP_VIRIDIS).reshape(*v.shape, 3)
    return bgr[..., ::-1]


def _png(rgb: np.ndarray) -> bytes:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:  # pragma: no cover
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


@dataclass(frozen=True)
class _HeatLayout:
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


def _heat_layout(film: Film) -> _HeatLayout:
    """Cells that fit ~720 px, axis keyframes ≥ 22 px apart, in the film's aspect ratio."""
    n = len(film.scenes)
    cell = int(min(56, max(3, 720 // max(n, 1))))
    stride = max(1, math.ceil(22 / cell))
    ah = 9 / 16
    meta_w, meta_h = film.meta.get("width"), film.meta.get("height")
    if isinstance(meta_w, (int, float)) and isinstance(meta_h, (int, float)) and meta_w > 0 \
            and meta_h > 0:
        ah = min(4.0, max(0.25, float(meta_h) / float(meta_w)))
    axis_len = stride * cell
    return _HeatLayout(n=n, cell=cell, stride=stride, size=n * cell, top_h=round(axis_len * ah),
                       left_w=round(axis_len / ah))


def _heat_axes(film: Film, thumbs: Mapping[int, ShotThumbs], lay: _HeatLayout
               ) -> tuple[list[str], int]:
    """Scene keyframes along the top and the left of the matrix, each linked to its row."""
    parts = []
    n_images = 0
    for i in range(0, lay.n, lay.stride):
        key = _scene_keyframe(film, film.scenes[i], thumbs)
        if key is None:
            continue
        uri = _data_uri(key, "image/jpeg")
        title = f"{_label(i)} {film.tc(film.scenes[i].start)}"
        # the last one stops at the matrix's edge
        span = min(lay.axis_len, lay.size - i * lay.cell)
        parts.append(f'<a class=ax href="#s{i + 1:03d}" title="{_esc(title)}" style="left:'
                     f'{lay.left_w + i * lay.cell}px;top:0;width:{span}px;height:{lay.top_h}px">'
                     f'<img src="{uri}" alt="{_label(i)}"></a>')
        parts.append(f'<a class=ax href="#s{i + 1:03d}" title="{_esc(title)}" style="left:0;'
                     f'top:{lay.top_h + i * lay.cell}px;width:{lay.left_w}px;height:{span}px">'
                     f'<img src="{uri}" alt="{_label(i)}"></a>')
        n_images += 2
    return parts, n_images


def _heat_matrix(dist: np.ndarray, lay: _HeatLayout) -> tuple[str, float]:
    """The matrix as a pixelated PNG scaled to the largest known off-diagonal distance
    (unknown pairs grey), and that scale."""
    import numpy as np

    known = ~np.isnan(dist)
    off = known & ~np.eye(lay.n, dtype=bool)
    vmax = float(dist[off].max()) if off.any() else 1.0
    vmax = vmax if vmax > 1e-9 else 1.0
    rgb = _viridis(np.where(known, dist / vmax, 0.0))
    rgb[~known] = (0x3A, 0x3D, 0x44)
    uri = _data_uri(_png(rgb), "image/png")
    return (f'<img class=matrix id=matrix src="{uri}" alt="distance matrix" '
            f'width="{lay.size}" height="{lay.size}" style="left:{lay.left_w}px;'
            f'top:{lay.top_h}px;width:{lay.size}px;height:{lay.size}px" '
            f'data-cell="{lay.cell}">', vmax)


def _heat_legend(vmax: float, complete: bool) -> str:
    """Colour scale from near to far, with grey for unknown pairs when there are any."""
    import numpy as np

    legend_rgb = _viridis(np.linspace(0.0, 1.0, 256))[None, :, :]
    return (f'<div class=legend>near <img src="{_data_uri(_png(legend_rgb), "image/png")}" '
            f'alt="colour scale"> far &nbsp; D = (1 − cos) / 2 from 0 to {vmax:.3f}'
            + ("" if complete else
               f' · <span style="color:{UNKNOWN_CSS};background:{UNKNOWN_CSS}">■</span> '
               'unknown') + "</div>")


def _heat_script(dist: np.ndarray, lay: _HeatLayout) -> str:
    """Hover readout (scene × scene: D) and click-to-row; values only up to 400 scenes,
    to keep the page small."""
    import numpy as np

    n = lay.n
    known = ~np.isnan(dist)
    values = None
    if n <= 400:
        values = [[None if not known[i, j] else round(float(dist[i, j]), 3) for j in range(n)]
                  for i in range(n)]
    data = json.dumps({"cell": lay.cell, "d": values})
    return (
        "<script>(function(){var m=document.getElementById('matrix'),o=document"
        ".getElementById('hover'),cfg=" + data.replace("</", "<\\/") + ";if(!m)return;"
        "function ij(e){var r=m.getBoundingClientRect();return[Math.floor((e.clientY-r.top)"
        "/cfg.cell),Math.floor((e.clientX-r.left)/cfg.cell)]}"
        "function lab(i){return'S'+String(i+1).padStart(3,'0')}"
        "m.addEventListener('mousemove',function(e){var p=ij(e),v=cfg.d&&cfg.d[p[0]]?"
        "cfg.d[p[0]][p[1]]:undefined;o.textContent=lab(p[0])+' \u00d7 '+lab(p[1])+"
        "(v===null?': unknown':v===undefined?'':': D = '+v.toFixed(3))+' (click: go to '+"
        "lab(p[0])+')'});m.addEventListener('click',function(e){location.hash='#s'+"
        "String(ij(e)[0]+1).padStart(3,'0')})})();</script>")


def _heatmap(film: Film, thumbs: Mapping[int, ShotThumbs]) -> tuple[str, int]:
    """Distance matrix as a pixelated PNG, scene keyframes along both axes, hover readout."""
    import numpy as np

    if film.dist is None:
        return ('<p class=note>No distances in this timeline (each clip is a shot: '
                f'{_esc(film.meta.get("tool") or "no scenesem cut")}). '
                'Cut with `scenesem cut … --embeddings` for the full matrix.</p>', 0)
    lay = _heat_layout(film)
    parts, n_images = _heat_axes(film, thumbs, lay)
    matrix, vmax = _heat_matrix(film.dist, lay)
    parts.append(matrix)
    complete = bool((~np.isnan(film.dist)).all())
    note = "" if complete else (
        "<p class=note>This timeline carries no scene embeddings: only each scene's "
        "distance to the previous scene and to its nearest earlier scenes are known (grey = "
        "unknown). Cut with `scenesem cut … --embeddings` for the full matrix.</p>")
    body = (f'{note}{_heat_legend(vmax, complete)}<div id=hover></div><div class=heatwrap>'
            f'<div class=heat style="width:{lay.left_w + lay.size}px;'
            f'height:{lay.top_h + lay.size}px">{"".join(parts)}'
            f'</div></div>{_heat_script(film.dist, lay)}')
    return body, n_images + 2


def render_report(film: Film, thumbs: Mapping[int, ShotThumbs],
                  facts: Mapping[str, Any] | None = None, video: str | None = None
                  ) -> tuple[str, int]:
    """The whole page as text, and how many <img> it holds."""
    rows = _facts_rows(film, facts, video)
    story, n_story = _storyboard(film, thumbs)
    heat, n_heat = _heatmap(film, thumbs)
    facts_html = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in rows)
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{_esc(film.name)} · scenesem report</title><style>{CSS}</style></head><body>"
        f"{_header(film, rows)}"
        f'<h2 id=curve>Boundary scores at the {len(film.cuts) or len(film.shots) - 1} shot '
        f'cuts · chosen cuts in their marker colour</h2><div class=chart>{_curve_svg(film)}'
        f"</div>"
        f'<h2 id=storyboard>Storyboard · {len(film.scenes)} scenes</h2>'
        f'<div class=board>{story}</div>'
        f'<h2 id=heatmap>Semantic distance between scenes</h2>{heat}'
        f'<h2 id=facts>Run facts</h2><table class=facts>{facts_html}</table>'
        f'<footer>Written by scenesem report from {_esc(film.source)} on '
        f'{_esc(time.strftime("%Y-%m-%d %H:%M"))}. Self-contained: no network needed.</footer>'
        "</body></html>")
    return page, n_story + n_heat


def check_report_path(output: str | os.PathLike) -> None:
    """Fail before long work (`cut --report`): an .html/.htm path in a writable folder."""
    from scenesem_otio.core.fileio import check_writable

    check_writable(output, OUTPUTS, ReportError, unknown="a report is HTML, not")


def write_report(timeline: str | os.PathLike | otio.schema.Timeline,
                 output: str | os.PathLike, *, video: str | os.PathLike | None = None,
                 thumbnails: Mapping[int, ShotThumbs] | None = None,
                 facts: Mapping[str, Any] | None = None,
                 progress: bool = False) -> ReportResult:
    """Write the HTML storyboard of `timeline` (a path, or the Timeline `cut` just built).

    `thumbnails` (shot start frame -> ShotThumbs, from a ThumbnailCollector fed during the
    cut's own decode) skips decoding; otherwise `video`, else the timeline's media, is
    decoded once. `facts` adds rows to the run facts (e.g. {"cut wall time": "12.1 s"}).
    """
    from scenesem_otio.core.fileio import write_text_atomic

    start = time.perf_counter()
    output = Path(output)
    check_report_path(output)
    if isinstance(timeline, (str, os.PathLike)):
        source = str(timeline)
        film = gather(read_report_timeline(timeline), source=source)
    else:
        film = gather(timeline)
    decode_s = 0.0
    if thumbnails is None:
        t0 = time.perf_counter()
        thumbnails = thumbnails_for(film, video, progress=progress)
        decode_s = time.perf_counter() - t0
    page, n_images = render_report(film, thumbnails, facts,
                                   str(video) if video is not None else None)
    data = page.encode("utf-8")
    write_text_atomic(output, page)
    return ReportResult(path=output, n_scenes=len(film.scenes), n_shots=len(film.shots),
                        n_images=n_images, size_bytes=len(data),
                        seconds=time.perf_counter() - start, decode_seconds=decode_s)
