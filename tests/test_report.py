"""`scenesem report`: the HTML storyboard, its thumbnails, and the page in a real browser."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import cv2
import lxml.html
import numpy as np
import opentimelineio as otio
import pytest
from films import render_film
from lxml.html import builder as E

from scenesem_otio.adapters.formats import read_timeline, write_timeline
from scenesem_otio.adapters.nle import timecode
from scenesem_otio.core.errors import MediaError, ScenesemError, TimelineError
from scenesem_otio.core.scenes import shots_from_cuts
from scenesem_otio.media.decode import iter_frames
from scenesem_otio.media.thumbnails import (
    ThumbnailCollector,
    shot_keyframes,
    thumb_size,
    thumbnails_from_video,
)
from scenesem_otio.report.gather import gather
from scenesem_otio.report.write import write_report

RATE = Fraction(30000, 1001)
LENGTHS = [35, 48, 29, 40, 33, 50, 31, 44, 38]
SEEDS = [1, 1, 1, 7, 7, 7, 1, 1, 13]  # the place of scene 1 comes back after scene 2


@pytest.fixture(scope="module")
def intercut(tmp_path_factory: pytest.TempPathFactory, tiny_videomae_dir: Path
             ) -> tuple[Path, Path, list[int]]:
    """A 29.97 DF film (start 01:00:00;00) with a returning place, cut into 4 scenes by the
    tiny VideoMAE with embeddings: (film, timeline, shot cut frames)."""
    from scenesem_otio.core.config import CutOptions, OutputOptions, RuntimeOptions, SegmentOptions
    from scenesem_otio.pipeline import cut

    root = tmp_path_factory.mktemp("report")
    film = root / "intercut.mp4"
    cuts = render_film(film, RATE, LENGTHS, timecode="01:00:00;00", seeds=SEEDS)
    out = root / "intercut.otio"
    cut(film, CutOptions(runtime=RuntimeOptions(model=str(tiny_videomae_dir)),
                         segment=SegmentOptions(n_scenes=4),
                         output=OutputOptions(embeddings=True), progress=False), output=out)
    return film, out, cuts


def _tree(page: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(page)


def _images(tree: lxml.html.HtmlElement) -> list[tuple[str, bytes]]:
    """(mime, bytes) of every image; each must be an inline base64 data: URI."""
    found = []
    for src in tree.xpath("//img/@src"):
        head, _, data = src.partition(",")
        assert head.startswith("data:image/") and head.endswith(";base64"), head[:40]
        found.append((head[len("data:"):-len(";base64")], base64.b64decode(data, validate=True)))
    return found


def _rows(tree: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    return tree.xpath('//section[@class="scene"]')


def _facts(tree: lxml.html.HtmlElement) -> dict[str, str]:
    return {tr[0].text_content(): tr[1].text_content()
            for tr in tree.xpath('//table[@class="facts"]//tr')}


def test_report_page_holds_scenes_timecodes_and_decodable_images(intercut, tmp_path):
    _, timeline_path, cuts = intercut
    out = tmp_path / "report.html"
    result = write_report(timeline_path, out)
    tree = _tree(out.read_text(encoding="utf-8"))
    timeline = read_timeline(timeline_path)
    data = gather(timeline, source=str(timeline_path))
    scenes = data.scenes
    assert len(scenes) == 4 and result.n_scenes == 4
    assert len(_rows(tree)) == len(scenes)
    assert data.shots == shots_from_cuts(cuts, sum(LENGTHS))  # every shot, from shot_cuts
    base = 108_000 - 108  # 01:00:00;00 drop-frame = 107,892 frames
    assert data.base == base and data.drop
    for i, s in enumerate(scenes):
        tc_in, tc_out = timecode(base + s.start, RATE, True), timecode(base + s.end, RATE, True)
        assert ";" in tc_in
        row = tree.get_element_by_id(f"s{i + 1:03d}")
        assert row.find_class("tc")[0].text_content() == f"IN {tc_in} · OUT {tc_out}"
    # Every in-page link points at an element of the page; scene 3 returns to scene 1.
    links = [h for h in tree.xpath("//a/@href") if h.startswith("#")]
    assert {f"#s{i + 1:03d}" for i in range(len(scenes))} <= set(links)
    for target in links:
        assert tree.get_element_by_id(target[1:], None) is not None, target
    assert data.nearest[2] and data.nearest[2][0][0] == 0
    # Self-contained: no remote URL anywhere a browser would fetch one.
    for url in tree.xpath("//@src | //@href"):
        assert url.startswith(("data:", "#")), url[:60]
    styles = [*tree.xpath("//style/text()"), *tree.xpath("//@style")]
    assert not any("url(" in css or "@import" in css for css in styles)
    # Every embedded image decodes; 3 thumbnails per shot, plus heat map and legend.
    images = _images(tree)
    assert len(images) == result.n_images
    for mime, blob in images:
        picture = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
        assert picture is not None and picture.size > 0, mime
    thumbs = [blob for mime, blob in images if mime == "image/jpeg"]
    axis = 2 * len(scenes)  # each scene's keyframe on both heat-map axes
    assert len(thumbs) == 3 * len(data.shots) + axis
    # The curve: θ drawn, every chosen cut linked to its scene row.
    svg = tree.xpath("//svg")[0]
    assert f"θ = {data.threshold:.3f} (not used: --scenes 4)" in svg.xpath(".//text/text()")
    for i, s in enumerate(scenes[1:], start=1):
        assert s.start in data.cuts
        titles = svg.xpath(f'.//a[@href="#s{i + 1:03d}"]/title/text()')
        assert f"S{i + 1:03d} at {timecode(base + s.start, RATE, True)}: boundary score " \
            in "\n".join(titles)
    # The run's facts.
    facts = _facts(tree)
    assert facts["model"] == str(timeline.metadata["scenesem"]["model"])
    assert facts["media rate"] == "30000/1001 (29.970 fps)"
    assert facts["start timecode"] == "01:00:00;00 drop-frame"
    assert result.size_bytes == out.stat().st_size


def test_every_thumbnail_shows_the_frame_it_claims(intercut):
    """First, middle and last frame of every shot, frame-exact: each JPEG is nearer its own
    decoded frame than any other frame of the film (the square moves 3 px a frame)."""
    film, _, cuts = intercut
    shots = shots_from_cuts(cuts, sum(LENGTHS))
    thumbs = thumbnails_from_video(film, shots)
    assert sorted(thumbs) == [s.start for s in shots]
    w, h = thumb_size(320, 180)
    frames = np.stack([f.reformat(width=w, height=h, format="bgr24",
                                  interpolation="AREA").to_ndarray().astype(np.int16)
                       for _, f in iter_frames(film)])
    for shot in shots:
        th = thumbs[shot.start]
        assert th.frames == shot_keyframes(shot.start, shot.end)
        for frame, blob in zip(th.frames, th.jpegs):
            pic = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
            assert pic.shape == (h, w, 3)
            err = np.abs(frames - pic.astype(np.int16)).mean(axis=(1, 2, 3))
            assert int(err.argmin()) == frame


def test_streaming_collector_matches_known_shots_with_flat_memory(intercut):
    """Fed every frame as a decode pass would (cuts announced 3 frames late), it keeps the
    exact first and last frames, a middle within shot/keep frames, and holds ≤ keep + lag."""
    film, _, cuts = intercut
    shots = shots_from_cuts(cuts, sum(LENGTHS))
    known = thumbnails_from_video(film, shots)
    stream = ThumbnailCollector(keep=8, lag=6)
    w, h = thumb_size(320, 180)
    pending = list(cuts)
    most = 0
    for index, frame in iter_frames(film):
        stream.feed(index, frame.reformat(width=w, height=h, format="bgr24",
                                          interpolation="AREA").to_ndarray())
        while pending and index >= pending[0] + 3:
            stream.end_shot(pending.pop(0))
        most = max(most, stream.held)
    got = stream.finish(sum(LENGTHS))
    assert most <= 8 + 6
    assert sorted(got) == sorted(known)
    for start, th in got.items():
        ref = known[start]
        assert (th.start, th.end) == (ref.start, ref.end)
        assert th.frames[0] == ref.frames[0] and th.frames[-1] == ref.frames[-1]
        assert th.jpegs[0] == ref.jpegs[0] and th.jpegs[-1] == ref.jpegs[-1]
        assert abs(th.frames[1] - ref.frames[1]) <= (th.end - th.start) / 8
    # A long shot fed as tiny arrays: memory stays flat, middle stays near the middle.
    long = ThumbnailCollector(keep=16, lag=4)
    tiny = np.zeros((9, 16, 3), np.uint8)
    for i in range(20_000):
        long.feed(i, tiny)
        assert long.held <= 16 + 4 + 1
    only = long.finish(20_000)[0]
    assert only.frames[0] == 0 and only.frames[-1] == 19_999
    assert abs(only.frames[1] - 9_999) <= 20_000 / 16


def test_report_without_embeddings_or_scores(intercut, tmp_path):
    """Works from what a timeline carries: no embeddings -> partial heat map (known pairs
    only, said so); a baseline timeline -> storyboard of shots, no scores, no distances."""
    from scenesem_otio.core.config import PYSCENEDETECT_SHOTS
    from scenesem_otio.pipeline import baseline

    film, timeline_path, _ = intercut
    timeline = read_timeline(timeline_path)
    full = gather(timeline).dist
    for clip in timeline.find_clips():
        del clip.metadata["scenesem"]["embedding"]
    # 4 scenes: previous + 3 nearest earlier cover every pair, equal to the embeddings' D.
    assert np.allclose(gather(timeline).dist, full, atol=1e-5)
    for clip in timeline.find_clips():
        del clip.metadata["scenesem"]["nearest"]
    matrix = gather(timeline).dist
    assert np.allclose(np.diag(matrix, -1), np.diag(full, -1), atol=1e-5)
    assert np.isnan(matrix[2, 0]) and np.isnan(matrix[0, 3])
    result = write_report(timeline, tmp_path / "partial.html", video=film)
    tree = _tree((tmp_path / "partial.html").read_text(encoding="utf-8"))
    notes = [p.text_content() for p in tree.find_class("note")]
    assert any("carries no scene embeddings" in n for n in notes) and result.n_scenes == 4

    base = tmp_path / "baseline.otio"
    baseline(film, base, PYSCENEDETECT_SHOTS, progress=False)
    result = write_report(base, tmp_path / "baseline.html")
    tree = _tree((tmp_path / "baseline.html").read_text(encoding="utf-8"))
    assert result.n_scenes == len(LENGTHS)
    assert len(_rows(tree)) == len(LENGTHS)
    assert any(t.startswith("no boundary scores in this timeline")
               for t in tree.xpath("//svg//text/text()"))
    assert tree.find_class("note")[0].text_content().startswith("No distances")
    assert tree.get_element_by_id("matrix", None) is None


def test_report_refuses_timelines_without_our_metadata(intercut, tmp_path):
    from click.testing import CliRunner

    from scenesem_otio.cli import main

    _, timeline_path, _ = intercut
    timeline = read_timeline(timeline_path)
    out = tmp_path / "r.html"
    for suffix in (".edl", ".xml", ".fcpxml", ".csv"):
        path = tmp_path / f"cut{suffix}"
        write_timeline(timeline, path)
        with pytest.raises(TimelineError, match=rf"cut\{suffix}: a \{suffix} file cannot carry"):
            write_report(path, out)
    del timeline.metadata["scenesem"]
    bare = tmp_path / "bare.otio"
    otio.adapters.write_to_file(timeline, str(bare))
    with pytest.raises(TimelineError, match=r"bare\.otio: no metadata\['scenesem'\]"):
        write_report(bare, out)
    timeline.metadata["scenesem"] = {"tool": "scenesem cut", "shot_cuts": ["35", "x"]}
    with pytest.raises(TimelineError, match=r"intercut: metadata\['scenesem'\] shot_cuts is not "):
        write_report(timeline, out)
    with pytest.raises(ScenesemError, match=r"r\.pdf: a report is HTML"):
        write_report(timeline_path, tmp_path / "r.pdf")
    other = tmp_path / "other.mp4"
    render_film(other, 25, [30, 30])
    with pytest.raises(MediaError, match=r"25\.000 fps, but .* 29\.970 fps: not the same film"):
        write_report(timeline_path, out, video=other)
    assert not out.exists()
    run = CliRunner().invoke(main, ["report", str(tmp_path / "cut.edl"), "-o", str(out)])
    assert run.exit_code == 1
    assert run.output.strip().splitlines() == [
        f"error: {tmp_path / 'cut.edl'}: a .edl file cannot carry scenesem's metadata (shot "
        f"cuts, boundary scores, distances); give the .otio or .otioz written by "
        f"`scenesem cut`"]
    run = CliRunner().invoke(main, ["report", str(timeline_path), "-o", str(out),
                                    "--no-progress"])
    assert run.exit_code == 0, run.output
    assert run.output.startswith("report: 4 scenes, 9 shots, ") and out.exists()


# ---------------------------------------------------------------- in a real browser

# Run in the page once loaded: count images and broken ones, count rows, and hover the heat
# map's cell (row 2, column 0) so report.js writes its readout; the verdict lands on the body.
PROBE = """window.addEventListener('load', function () {
  var a = Array.from(document.images), m = document.getElementById('matrix'), hover = null;
  if (m) {
    var r = m.getBoundingClientRect(), c = Number(m.dataset.cell);
    m.dispatchEvent(new MouseEvent('mousemove',
                                   {clientX: r.left + c / 2, clientY: r.top + 2.5 * c}));
    hover = document.getElementById('hover').textContent;
  }
  document.body.setAttribute('data-check', JSON.stringify({
    images: a.length, rows: document.querySelectorAll('section.scene').length, hover: hover,
    broken: a.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
             .map(function (i) { return i.alt; })}));
});"""


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome")) if p), None)


def _browse(browser: str, page: Path, profile: Path, *args: str) -> str:
    profile.mkdir(exist_ok=True)
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars", *args,
         page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _check(browser: str, tree: lxml.html.HtmlElement, tmp_path: Path, name: str) -> dict:
    """Load a copy of the page with the probe script appended; read its verdict from the DOM."""
    probe = tmp_path / f"{name}.html"
    tree.body.append(E.SCRIPT(PROBE))
    probe.write_bytes(lxml.html.tostring(tree, doctype="<!DOCTYPE html>", encoding="utf-8"))
    dom = _browse(browser, probe, tmp_path / f"profile-{name}", "--virtual-time-budget=5000",
                  "--dump-dom")
    verdict = _tree(dom).body.get("data-check")
    assert verdict, dom[-500:]
    return json.loads(verdict)


def test_report_in_headless_chromium(intercut, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    _, timeline_path, _ = intercut
    out = tmp_path / "report.html"
    result = write_report(timeline_path, out)
    shot = tmp_path / "report.png"
    _browse(browser, out, tmp_path / "profile-shot", "--window-size=1400,2000",
            f"--screenshot={shot}")
    picture = cv2.imread(str(shot))
    assert picture is not None and picture.shape[:2] == (2000, 1400)
    assert picture.std() > 10  # a rendered page, not a blank one

    page = out.read_text(encoding="utf-8")
    d = gather(read_timeline(timeline_path)).dist
    verdict = _check(browser, _tree(page), tmp_path, "ok")
    assert verdict == {"images": result.n_images, "broken": [], "rows": 4,
                       "hover": f"S003 × S001: D = {round(float(d[2, 0]), 3):.3f} "
                                "(click: go to S003)"}
    # The probe does see a broken image: corrupt one thumbnail's bytes.
    tree = _tree(page)
    first = tree.xpath("//img")[0]
    first.set("src", "data:image/jpeg;base64," + base64.b64encode(b"not a jpeg" * 20).decode())
    verdict = _check(browser, tree, tmp_path, "broken")
    assert verdict["broken"] == [first.get("alt")] and verdict["rows"] == 4


HOSTILE = "<script>alert(1)</script> \"double\" 'single' & amp"


def test_names_from_the_timeline_are_text_not_markup(intercut, tmp_path):
    """Timeline, scene and marker names, descriptions and facts are the editor's text: they
    come out escaped, so the page has no element or attribute they did not come with."""
    film, timeline_path, _ = intercut
    timeline = read_timeline(timeline_path)
    timeline.name = HOSTILE
    timeline.metadata["scenesem"]["note"] = "</td></table>" + HOSTILE
    for k, clip in enumerate(timeline.find_clips()):
        for marker in clip.markers:  # a ranged marker names its scene
            marker.marked_range = otio.opentime.TimeRange(marker.marked_range.start_time,
                                                          clip.source_range.duration)
            marker.name = f"{HOSTILE} {k}"
            marker.comment = "<i>not italic</i> & \"quoted\""
            marker.color = "\" onmouseover=\"alert(2)" if k == 0 else marker.color
    out = tmp_path / "hostile.html"
    write_report(timeline, out, video=film, facts={"<b>key</b>": HOSTILE})
    tree = _tree(out.read_text(encoding="utf-8"))

    scripts = [s.text for s in tree.iter("script")]
    assert len(scripts) == 1 and "alert" not in scripts[0]  # only the heat map's own
    assert tree.xpath("//@*[starts-with(name(), 'on')]") == []
    assert tree.findtext(".//h1") == HOSTILE
    assert tree.findtext(".//title") == f"{HOSTILE} · scenesem report"
    assert [t.text for t in tree.find_class("title")] == [f"{HOSTILE} {k}" for k in range(4)]
    assert tree.get_element_by_id("s001").find_class("dot")[0].get("title") == \
        "marker \" onmouseover=\"alert(2)"
    descriptions = tree.find_class("desc")
    assert len(descriptions) == 4 and all(len(d) == 0 for d in descriptions)  # no i element
    assert descriptions[0].text == "<i>not italic</i> & \"quoted\""
    facts = _facts(tree)
    assert facts["note"] == "</td></table>" + HOSTILE and facts["<b>key</b>"] == HOSTILE
    assert tree.xpath('//table[@class="facts"]//b') == [] and len(tree.xpath("//table")) == 1


def test_cut_report_comes_from_the_same_decode(scene_film: tuple[Path, list[int], list[int]],
                                               tiny_videomae_dir: Path, tmp_path: Path) -> None:
    """`cut --report`: one decode pass (every frame once), thumbnails of every shot, one row
    per scene, the report written beside the timeline."""
    from click.testing import CliRunner

    from scenesem_otio.cli import main
    from scenesem_otio.core.config import CutOptions, OutputOptions, RuntimeOptions
    from scenesem_otio.media.probe import probe
    from scenesem_otio.pipeline import cut

    video, shot_cuts, _ = scene_film
    page = tmp_path / "cut.html"
    result = cut(video, CutOptions(runtime=RuntimeOptions(model=str(tiny_videomae_dir)),
                                   output=OutputOptions(report=page), progress=False),
                 output=tmp_path / "cut.otio")
    assert result.film.frames_decoded == probe(video).n_frames
    assert sorted(result.film.thumbnails) == [0, *shot_cuts]
    tree = _tree(page.read_text())
    assert [row.get("id") for row in _rows(tree)] == [
        f"s{i + 1:03d}" for i in range(len(result.scenes))]
    assert sum(mime == "image/jpeg" for mime, _ in _images(tree)) >= 3 * len(result.shots)
    bad = CliRunner().invoke(main, ["cut", str(video), "-o", str(tmp_path / "x.otio"),
                                    "--model", str(tiny_videomae_dir), "--report",
                                    str(tmp_path / "x.pdf"), "--no-progress"])
    assert bad.exit_code == 1 and not (tmp_path / "x.otio").exists()
    assert [line for line in bad.output.splitlines() if line.startswith("error:")] == [
        f"error: {tmp_path / 'x.pdf'}: a report is HTML, not '.pdf'; use one of .html .htm"]


def test_scene_count_fact_shows_the_criterion_over_n_with_the_pick_marked() -> None:
    """Issue 25: the report says how N was chosen and how clear the choice was."""
    from scenesem_otio.report.view import scene_count_text

    count = {"chosen": 3, "criterion": "sequential silhouette", "peak": 0.41, "margin": 0.12,
             "curve": {"10": 0.05, "2": 0.29, "3": 0.41, "4": 0.3, "5": 0.1}}  # JSON key order
    assert scene_count_text(count) == (
        "N = 3 by sequential silhouette, margin 0.120 over the next best N; "
        "over N: 2: 0.290, [3: 0.410], 4: 0.300, 5: 0.100, 10: 0.050")
    assert scene_count_text(count, around=1).endswith("over N: 2: 0.290, [3: 0.410], 4: 0.300")
