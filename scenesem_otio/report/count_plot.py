"""Report, how many scenes: the criterion `--scenes auto` maximised, plotted over N (issue 25).

`cut` keeps the sequential silhouette of every N it tried in `metadata["scenesem"]
["scene_count"]` (`segment.count.SceneCount.as_meta`); a row of numbers says little about the
shape, and the shape is what tells an editor whether N = 12 stood out or barely won. The plot
is a PNG (matplotlib, Agg, no pyplot state), placed with its caption by `templates/page.html.j2`
under the scene count fact.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# "clear" when the pick beats every other N by at least this share of its own score, else a
# "close call". A reading aid, not a measured threshold: the criterion has no natural unit, so
# the margin is judged against the peak (0.04 of 0.4 is clear, 0.01 of 0.4 is not).
CLEAR_SHARE = 0.10
WIDTH_PX, HEIGHT_PX = 760, 250  # as shown; the PNG has twice the pixels for sharp screens
SCALE = 2  # PNG pixels per CSS pixel
# The page's own colours (templates/report.css), so the plot reads as part of the page.
PANEL, FG, MUTE, LINE, ACCENT, PICK = ("#222429", "#e8e8e8", "#9aa0a6", "#34373e", "#4da3ff",
                                       "#f5c518")


@dataclass(frozen=True)
class CountPlot:
    """The criterion over N as an image, and the facts its caption states."""

    chosen: int
    criterion: str
    tried: tuple[int, int, int]  # (how many N, smallest, largest)
    peak: float | None  # criterion at the chosen N; None: one scene, no N ≥ 2 above 0
    runner_up: int | None  # the best other N
    runner_up_score: float | None
    margin: float  # peak minus the runner-up's score
    png: bytes
    min_scene_s: float | None = None  # the shortest scene the groupings allowed (None: unknown)
    width: int = WIDTH_PX
    height: int = HEIGHT_PX

    @property
    def one_scene(self) -> bool:
        """One scene: no grouping into two or more scored above 0, so none was better."""
        return self.peak is None

    @property
    def clear(self) -> bool:
        """The pick beat the next best N by at least CLEAR_SHARE of its own score."""
        return self.peak is not None and self.margin >= CLEAR_SHARE * abs(self.peak)

    @property
    def clear_percent(self) -> int:
        return round(100 * CLEAR_SHARE)


def count_plot(count: Any) -> CountPlot | None:
    """The plot of a timeline's `scene_count` metadata; None without one, or with fewer than
    two N on its curve (nothing to compare)."""
    if not isinstance(count, Mapping):
        return None
    curve = criterion_curve(count.get("curve"))
    chosen = whole_number(count.get("chosen"))
    if len(curve) < 2 or chosen is None or (chosen not in curve and chosen != 1):
        return None  # no curve to draw, or a pick the curve does not hold (only 1 may be off it)
    peak = curve.get(chosen)
    others = {n: v for n, v in curve.items() if n != chosen}
    runner_up = max(others, key=lambda n: (others[n], -n)) if others else None
    runner_score = others[runner_up] if runner_up is not None else None
    margin = (peak - runner_score if peak is not None and runner_score is not None
              else finite_number(count.get("margin")) or 0.0)
    return CountPlot(chosen=chosen, criterion=str(count.get("criterion") or "criterion"),
                     tried=(len(curve), min(curve), max(curve)), peak=peak,
                     runner_up=runner_up, runner_up_score=runner_score, margin=margin,
                     png=curve_png(curve, chosen, runner_up, measure_name(count.get("criterion"))),
                     min_scene_s=finite_number(count.get("min_scene_s")))


def measure_name(criterion: Any) -> str:
    """What the y axis shows: the criterion's measure without what it is measured on
    ("sequential silhouette" of "sequential silhouette of the optimal grouping of each N")."""
    return str(criterion or "criterion").split(" of ", 1)[0]


def criterion_curve(raw: Any) -> dict[int, float]:
    """{N: criterion} from the metadata's {"N": value} (JSON keys are strings), sorted by N;
    entries that are not an integer N with a finite value are left out."""
    if not isinstance(raw, Mapping):
        return {}
    curve = {}
    for key, value in raw.items():
        n, v = whole_number(key), finite_number(value)
        if n is not None and v is not None:
            curve[n] = v
    return dict(sorted(curve.items()))


def curve_png(curve: Mapping[int, float], chosen: int, runner_up: int | None,
              measure: str = "criterion") -> bytes:
    """The curve as a PNG: the chosen N a yellow line and dot with its label, the next best
    N a hollow ring, 0 drawn when the curve reaches below it (where one scene would win);
    `measure` names the y axis."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(WIDTH_PX / 100, HEIGHT_PX / 100), dpi=100, facecolor=PANEL)
    ax = fig.add_subplot()
    _style(ax)
    ns, values = list(curve), list(curve.values())
    ax.plot(ns, values, color=ACCENT, linewidth=1.6, marker="o" if len(ns) <= 60 else None,
            markersize=3.5, zorder=2)
    if min(values) < 0:
        ax.axhline(0.0, color=MUTE, linewidth=0.8, linestyle=":", zorder=1)
    if runner_up is not None and chosen in curve:
        ax.plot([runner_up], [curve[runner_up]], marker="o", markersize=10, fillstyle="none",
                color=FG, linestyle="none", zorder=3)
    _mark_chosen(ax, curve, chosen)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("number of scenes N", color=MUTE)
    ax.set_ylabel(f"{measure}\n(higher: better)", color=MUTE)
    fig.tight_layout(pad=0.6)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100 * SCALE, facecolor=PANEL)
    return buf.getvalue()


def _mark_chosen(ax: Any, curve: Mapping[int, float], chosen: int) -> None:
    """A dashed vertical line at the chosen N, a dot on the curve, "N = … chosen" beside it
    (on the side with more room)."""
    ax.axvline(chosen, color=PICK, linewidth=1.2, linestyle="--", zorder=1)
    if chosen in curve:
        ax.plot([chosen], [curve[chosen]], marker="o", markersize=8, color=PICK, zorder=4)
    lo, hi = min(min(curve), chosen), max(max(curve), chosen)
    right_side = chosen - lo <= hi - chosen
    ax.set_xlim(lo - 0.5, hi + 0.5)
    bottom, top = min(curve.values()), max(curve.values())
    if bottom < 0:
        top = max(top, 0.0)  # 0 in view: below it, one scene beats that N
    pad = (top - bottom) * 0.08 or 0.05
    ax.set_ylim(bottom - pad, top + 2.5 * pad)  # room for the label above the curve
    ax.text(chosen, 0.97, f" N = {chosen} chosen ",
            transform=ax.get_xaxis_transform(), ha="left" if right_side else "right",
            va="top", color=PICK, fontsize=10, fontweight="bold")


def _style(ax: Any) -> None:
    """Dark axes in the page's colours, a faint horizontal grid."""
    ax.set_facecolor(PANEL)
    for side, spine in ax.spines.items():
        spine.set_color(LINE)
        spine.set_visible(side in ("left", "bottom"))
    ax.tick_params(colors=MUTE, labelsize=9)
    ax.grid(axis="y", color=LINE, linewidth=0.6)
    ax.set_axisbelow(True)


def whole_number(value: Any) -> int | None:
    """`value` as an int when it is a whole number (3, 3.0, "3"), else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def finite_number(value: Any) -> float | None:
    """`value` as a finite float, else None (metadata may have been edited by hand)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
