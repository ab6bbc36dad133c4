"""The report says how N was chosen (issue 25): the criterion over N as an embedded PNG under
the scene count fact, the chosen N marked, a caption naming it and how clear the choice was."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import lxml.html
import numpy as np
import opentimelineio as otio
import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from scenesem_otio.adapters.formats import read_timeline
from scenesem_otio.report.count_plot import CLEAR_SHARE, HEIGHT_PX, PICK, SCALE, WIDTH_PX
from scenesem_otio.report.count_plot import count_plot as make_plot
from scenesem_otio.report.write import write_report

CURVE = {"2": 0.2, "3": 0.31, "4": 0.45, "5": 0.33, "6": 0.3, "7": 0.1}


@pytest.fixture(scope="module")
def auto_cut(scene_film: tuple[Path, list[int], list[int]],
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`scenesem cut --report` with N chosen from the film (the default without a checkpoint):
    (timeline, report)."""
    from scenesem_otio.cli import main

    root = tmp_path_factory.mktemp("count_plot")
    video, _, _ = scene_film
    timeline, page = root / "film.otio", root / "film.html"
    result = CliRunner().invoke(main, ["cut", str(video), "-o", str(timeline), "--model",
                                       "embedded", "--report", str(page), "--no-progress"])
    assert result.exit_code == 0, result.output
    return timeline, page


def _tree(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(path.read_text(encoding="utf-8"))


def _figure(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    return tree.get_element_by_id("count", None)


def _caption(tree: lxml.html.HtmlElement) -> str:
    """The scene-count figure's caption, its whitespace collapsed."""
    return " ".join(tree.xpath('//figure[@id="count"]/figcaption')[0].text_content().split())


def _png(figure: lxml.html.HtmlElement) -> np.ndarray:
    """The figure's image, decoded: [height, width, RGBA] floats in 0..1."""
    head, _, data = figure.xpath(".//img/@src")[0].partition(",")
    assert head == "data:image/png;base64"
    return imread(io.BytesIO(base64.b64decode(data, validate=True)), format="png")


def _pick_column(picture: np.ndarray) -> int:
    """x of the chosen N's vertical line: the column with the most pixels of its colour."""
    rgb = np.array([int(PICK[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    near = np.abs(picture[..., :3] - rgb).max(axis=2) < 0.08
    return int(np.argmax(near.sum(axis=0)))


def _report(timeline: otio.schema.Timeline, path: Path) -> lxml.html.HtmlElement:
    """The report of `timeline` without frames (no decode: this is about the facts)."""
    result = write_report(timeline, path, thumbnails={})
    tree = _tree(path)
    assert len(tree.xpath("//img")) == result.n_images
    return tree


def _with_count(path: Path, count: dict | None) -> otio.schema.Timeline:
    timeline = read_timeline(path)
    if count is None:
        del timeline.metadata["scenesem"]["scene_count"]
    else:
        timeline.metadata["scenesem"]["scene_count"] = count
    return timeline


def test_cut_report_plots_the_criterion_over_n_and_names_the_pick(
        auto_cut: tuple[Path, Path]) -> None:
    timeline_path, page = auto_cut
    timeline = read_timeline(timeline_path)  # held: its metadata lives as long as it does
    count = timeline.metadata["scenesem"]["scene_count"]
    curve = {int(k): float(v) for k, v in count["curve"].items()}
    chosen = int(count["chosen"])
    assert len(curve) >= 2 and chosen in curve
    tree = _tree(page)
    figure = _figure(tree)
    assert figure is not None and "#count" in tree.xpath("//nav/a/@href")
    row = figure.getparent().getparent()  # under the scene count fact, in its row
    assert row.tag == "tr" and row[0].text_content() == "scene count"
    picture = _png(figure)
    assert picture.shape[:2] == (HEIGHT_PX * SCALE, WIDTH_PX * SCALE)
    assert picture[..., :3].std() > 0.02  # drawn on, not a blank panel
    caption = _caption(tree)
    peak = curve[chosen]
    margin = peak - max(v for n, v in curve.items() if n != chosen)
    assert caption.startswith(f"N = {chosen} chosen from the film by the {count['criterion']}")
    assert f"N = {chosen} scored highest ({peak:.3f})" in caption
    assert f"a margin of {margin:.3f}" in caption
    verdict = "a clear choice" if margin >= CLEAR_SHARE * peak else "a close call"
    assert verdict in caption
    assert f"{chosen} chosen" in figure.xpath(".//img/@alt")[0]
    assert count["min_scene_s"] == 0 and "each scene at least" not in caption  # none set


def test_the_mark_stands_at_the_chosen_n() -> None:
    """The line for N sits where N is on the axis: N = 2, 4 and 6 evenly spaced, left to
    right, on the same curve."""
    columns = []
    for chosen in (2, 4, 6):
        plot = make_plot({"chosen": chosen, "criterion": "c", "curve": CURVE})
        assert plot is not None
        columns.append(_pick_column(imread(io.BytesIO(plot.png), format="png")))
    left, middle, right = columns
    assert left < middle < right
    assert abs((middle - left) - (right - middle)) <= 3, columns


def test_caption_says_whether_the_choice_was_clear(auto_cut: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    timeline_path, _ = auto_cut
    clear = _report(_with_count(timeline_path, {"chosen": 4, "criterion": "c", "curve": CURVE}),
                    tmp_path / "clear.html")
    caption = _caption(clear)
    assert "next best is N = 5 (0.330, ringed): a margin of 0.120, a clear choice" in caption
    close = dict(CURVE, **{"5": 0.44})
    close_call = _report(_with_count(timeline_path, {"chosen": 4, "criterion": "c",
                                                     "curve": close, "min_scene_s": 2.5}),
                         tmp_path / "close.html")
    caption = _caption(close_call)
    assert "a margin of 0.010, a close call" in caption
    assert "each scene at least 2.50 s long (the minimum scene asked for)" in caption
    assert "N = 5 would cut the film nearly as well" in caption
    one = _report(_with_count(timeline_path, {"chosen": 1, "criterion": "c",
                                              "curve": {"2": -0.1, "3": -0.02}}),
                  tmp_path / "one.html")
    caption = _caption(one)
    assert caption.startswith("N = 1: the film was kept as one scene")
    assert "none scored above 0 (the best, N = 3, -0.020)" in caption


def test_no_plot_without_a_curve_to_draw(auto_cut: tuple[Path, Path], tmp_path: Path) -> None:
    """No scene_count (θ or --scenes N decided), a single N, or a curve that is not numbers:
    no figure and no link to it; the page is otherwise the same."""
    timeline_path, _ = auto_cut
    with_plot = _report(_with_count(timeline_path, {"chosen": 4, "criterion": "c",
                                                    "curve": CURVE}), tmp_path / "with.html")
    cases = {"none": None, "single": {"chosen": 3, "criterion": "c", "curve": {"3": 0.4}},
             "junk": {"chosen": "x", "criterion": "c", "curve": {"a": "b", "2": "nan"}},
             "off the curve": {"chosen": 9, "criterion": "c", "curve": CURVE}}
    for name, count in cases.items():
        tree = _report(_with_count(timeline_path, count), tmp_path / f"{name}.html")
        assert _figure(tree) is None and tree.find_class("count") == [], name
        assert "#count" not in tree.xpath("//nav/a/@href"), name
        assert len(tree.xpath("//img")) == len(with_plot.xpath("//img")) - 1, name
        assert [r[0].text_content() for r in tree.xpath('//table[@class="facts"]//tr')] == [
            r[0].text_content() for r in with_plot.xpath('//table[@class="facts"]//tr')
            if count is not None or r[0].text_content() != "scene count"], name
