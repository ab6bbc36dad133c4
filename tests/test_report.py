"""`scenesem report`: the HTML storyboard, its thumbnails, and the page in a real browser."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import opentimelineio as otio
import pytest
from films import render_film

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
from scenesem_otio.report import gather, write_report

RATE = Fraction(30000, 1001)
LENGTHS = [35, 48, 29, 40, 33, 50, 31, 44, 38]
SEEDS = [1, 1, 1, 7, 7, 7, 1, 1, 13]  # the place of scene 1 comes back after scene 2
IMG = re.compile(r'<img [^>]*src="data:(image/[a-z]+);base64,([A-Za-z0-9+/=]+)"')


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


def _images(page: str) -> list[tuple[str, bytes]]:
    return [(mime, base64.b64decode(data)) for mime, data in IMG.findall(page)]


def test_report_page_holds_scenes_timecodes_and_decodable_images(intercut, tmp_path):
    _, timeline_path, cuts = intercut
    out = tmp_path / "report.html"
    result = write_report(timeline_path, out)
    page = out.read_text(encoding="utf-8")
    timeline = read_timeline(timeline_path)
    data = gather(timeline, source=str(timeline_path))
    scenes = data.scenes
    assert len(scenes) == 4 and result.n_scenes == 4
    assert len(re.findall(r"<section class=scene ", page)) == len(scenes)
    assert data.shots == shots_from_cuts(cuts, sum(LENGTHS))  # every shot, from shot_cuts
    base = 108_000 - 108  # 01:00:00;00 drop-frame = 107,892 frames
    assert data.base == base and data.drop
    for i, s in enumerate(scenes):
        tc_in, tc_out = timecode(base + s.start, RATE, True), timecode(base + s.end, RATE, True)
        assert ";" in tc_in
        assert f'id="s{i + 1:03d}"' in page
        assert f"IN {tc_in} · OUT {tc_out}" in page
    # Links to nearest earlier scenes point at anchors on the page; scene 3 returns to 1.
    for target in re.findall(r'href="#(s\d{3})"', page):
        assert f'id="{target}"' in page
    assert data.nearest[2] and data.nearest[2][0][0] == 0
    # Self-contained: no remote URL anywhere a browser would fetch one.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "url(http" not in page and "@import" not in page
    # Every embedded image decodes; 3 thumbnails per shot, plus heat map and legend.
    images = _images(page)
    assert len(images) == result.n_images
    for mime, blob in images:
        picture = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
        assert picture is not None and picture.size > 0, mime
    thumbs = [blob for mime, blob in images if mime == "image/jpeg"]
    axis = 2 * len(scenes)  # each scene's keyframe on both heat-map axes
    assert len(thumbs) == 3 * len(data.shots) + axis
    # The curve: θ drawn, every chosen cut linked to its scene row.
    assert f"θ = {data.threshold:.3f}" in page
    for i, s in enumerate(scenes[1:], start=1):
        assert s.start in data.cuts
        assert re.search(rf'<a href="#s{i + 1:03d}"><title>S{i + 1:03d} at ', page)
    # The run's facts.
    assert str(timeline.metadata["scenesem"]["model"]) in page
    assert "30000/1001 (29.970 fps)" in page and "01:00:00;00 drop-frame" in page
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
    page = (tmp_path / "partial.html").read_text(encoding="utf-8")
    assert "carries no scene embeddings" in page and result.n_scenes == 4

    base = tmp_path / "baseline.otio"
    baseline(film, base, PYSCENEDETECT_SHOTS, progress=False)
    result = write_report(base, tmp_path / "baseline.html")
    page = (tmp_path / "baseline.html").read_text(encoding="utf-8")
    assert result.n_scenes == len(LENGTHS)
    assert len(re.findall(r"<section class=scene ", page)) == len(LENGTHS)
    assert "no boundary scores in this timeline" in page and "No distances" in page


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

CHECK = ("<script>window.addEventListener('load',function(){var a=Array.from(document.images);"
         "document.body.setAttribute('data-check',JSON.stringify({images:a.length,broken:a"
         ".filter(function(i){return !i.complete||i.naturalWidth===0}).map(function(i){return "
         "i.alt}),rows:document.querySelectorAll('section.scene').length}))});</script>")


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


def _check(browser: str, page_text: str, tmp_path: Path, name: str) -> dict:
    """Load a copy of the page with a probe script appended; read its verdict from the DOM."""
    probe = tmp_path / f"{name}.html"
    probe.write_text(page_text.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    dom = _browse(browser, probe, tmp_path / f"profile-{name}", "--virtual-time-budget=5000",
                  "--dump-dom")
    found = re.search(r'data-check="([^"]*)"', dom)
    assert found, dom[-500:]
    return json.loads(found.group(1).replace("&quot;", '"'))


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
    verdict = _check(browser, page, tmp_path, "ok")
    assert verdict == {"images": result.n_images, "broken": [], "rows": 4}
    # The probe does see a broken image: corrupt one thumbnail's bytes.
    first = IMG.search(page)
    assert first is not None
    broken = page.replace(first.group(2), base64.b64encode(b"not a jpeg" * 20).decode(), 1)
    verdict = _check(browser, broken, tmp_path, "broken")
    assert len(verdict["broken"]) == 1 and verdict["rows"] == 4


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
    html = page.read_text()
    assert len(re.findall(r'<section class=scene id="s\d{3}"', html)) == len(result.scenes)
    assert html.count("data:image/jpeg;base64,") >= 3 * len(result.shots)
    bad = CliRunner().invoke(main, ["cut", str(video), "-o", str(tmp_path / "x.otio"),
                                    "--model", str(tiny_videomae_dir), "--report",
                                    str(tmp_path / "x.pdf"), "--no-progress"])
    assert bad.exit_code == 1 and "error:" in bad.output and not (tmp_path / "x.otio").exists()
