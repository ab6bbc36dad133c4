"""Footage as archives and phones hold it: non-square pixels, interlaced fields, a rotation.

Real ffmpeg-encoded media: PAL 16:9 MPEG-2 (720x576, pixels 64/45 as wide as tall, top field
first), NTSC DV (720x480, 8/9, bottom field first, raw .dv) and a portrait phone video (stored
landscape, a display matrix that turns it). A project that does not say so shows the picture
squeezed; the network and the report's thumbnails would see it squeezed or lying on its side.
"""

from __future__ import annotations

import base64
import re
import subprocess
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import opentimelineio as otio
import pytest
from click.testing import CliRunner
from films import melt_render, needs_melt

from scenesem_otio.cli import main
from scenesem_otio.media.decode import iter_frames, square_from_bgr
from scenesem_otio.media.probe import probe


def _encode(path: Path, size: str, rate: str, sar: str, codec: list[str], seconds: int = 4,
            sound: bool = True) -> Path:
    """Two shots (test pattern, then a moving gradient) with a hard cut at the middle."""
    half = seconds / 2
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={half}",
              "-f", "lavfi", "-i", f"mandelbrot=size={size}:rate={rate}",
              ]
    graph = (f"[1:v]trim=duration={half},setpts=PTS-STARTPTS[b];"
             f"[0:v][b]concat=n=2:v=1:a=0,format=yuv420p,setsar={sar}[v]")
    audio = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"] if sound else []
    maps = ["-map", "[v]"] + (["-map", "2:a"] if sound else [])
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, *audio, "-filter_complex", graph,
                    *maps, *codec, str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("archive")
    return {
        "pal_wide": _encode(folder / "pal wide.mpg", "720x576", "25", "64/45",
                            ["-c:v", "mpeg2video", "-b:v", "6M", "-flags", "+ildct+ilme",
                             "-top", "1", "-c:a", "mp2"]),
        "ntsc_dv": _encode(folder / "ntsc.dv", "720x480", "30000/1001", "8/9",
                           ["-c:v", "dvvideo", "-pix_fmt", "yuv411p"], sound=False),
    }


def test_probe_reads_pixel_shape_and_fields(archive: dict[str, Path]) -> None:
    pal = probe(archive["pal_wide"])
    assert (pal.width, pal.height, pal.sample_aspect) == (720, 576, Fraction(64, 45))
    assert pal.display_aspect == Fraction(16, 9) and pal.field_order == "tff"
    assert pal.fps == 25 and pal.n_frames == 100
    dv = probe(archive["ntsc_dv"])
    assert (dv.sample_aspect, dv.display_aspect, dv.field_order) == \
        (Fraction(8, 9), Fraction(4, 3), "bff")
    # raw DV's container reports its 1/60000 time base as the average rate
    assert dv.fps == Fraction(30000, 1001)
    assert dv.n_frames == sum(1 for _ in iter_frames(archive["ntsc_dv"]))


@pytest.mark.parametrize(("size", "sar", "top", "order"), [
    ("720x576", "16/15", "1", "tff"), ("720x576", "16/15", "0", "bff"),
    ("1440x1080", "4/3", "1", "tff")])  # DVCPRO HD 1080i is top field first
def test_dv_field_order_is_the_one_the_frames_carry(tmp_path: Path, size: str, sar: str,
                                                    top: str, order: str) -> None:
    """DV headers leave the field order unset; each frame's VSC pack says it, and ffmpeg
    reads it there. Not every DV film is bottom field first."""
    video = _encode(tmp_path / "film.dv", size, "25", sar,
                    ["-c:v", "dvvideo", "-pix_fmt", "yuv420p" if size == "720x576" else
                     "yuv422p", "-flags", "+ildct+ilme", "-top", top], seconds=1, sound=False)
    shown = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "frame=top_field_first",
                            "-read_intervals", "%+#1", "-of", "csv=p=0", str(video)],
                           capture_output=True, text=True, check=True).stdout.split()[0]
    assert shown == ("1" if order == "tff" else "0")  # what ffmpeg makes of the file
    assert probe(video).field_order == order


def test_container_pixel_aspect_wins_over_the_codec(tmp_path: Path) -> None:
    """A MOV/MP4 `pasp` atom (what `-aspect` writes on a remux, and cameras' wrappers) over a
    bitstream that says square: ffmpeg, players and MLT show the container's shape, so probe
    must read it too (av_guess_sample_aspect_ratio's rule)."""
    square = _encode(tmp_path / "square.mp4", "320x240", "25", "1", ["-c:v", "libx264"],
                     seconds=1, sound=False)
    wide = tmp_path / "wide.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(square), "-c", "copy",
                    "-aspect", "16:9", str(wide)], check=True)
    shown = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=sample_aspect_ratio", "-of", "csv=p=0", str(wide)],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert shown == "4:3"  # what ffmpeg makes of the file
    info = probe(wide)
    assert (info.sample_aspect, info.display_aspect) == (Fraction(4, 3), Fraction(16, 9))


def test_info_prints_the_pixel_shape(archive: dict[str, Path]) -> None:
    result = CliRunner().invoke(main, ["info", str(archive["pal_wide"])])
    assert result.exit_code == 0, result.output
    assert re.search(r"pixel_aspect\s+64/45", result.output)
    assert re.search(r"display_aspect\s+16/9", result.output)
    assert re.search(r"field_order\s+tff", result.output)


def test_square_crop_is_taken_from_the_picture_as_shown() -> None:
    """A circle in the picture as shown is an ellipse 45/64 as wide in stored 64/45 pixels;
    the network's square crop must make it round again."""
    stored = np.zeros((576, 720, 3), np.uint8)
    cv2.ellipse(stored, (360, 288), (round(200 * 45 / 64), 200), 0, 0, 360, (255, 255, 255), -1)
    crop = square_from_bgr(stored, 224, 64 / 45)
    ys, xs = np.nonzero(crop[..., 0] > 127)
    width, height = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    assert abs(width - height) <= 2, (width, height)
    assert abs(height - 400 * 224 / 576) <= 2  # the circle is 400 lines tall
    squeezed = square_from_bgr(stored, 224)  # stored pixels taken as square: 0.70 as wide
    ys, xs = np.nonzero(squeezed[..., 0] > 127)
    assert (xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1) < 0.75


def _cut(video: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(main, ["cut", str(video), "-o", str(out), *extra],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _profile(path: Path) -> dict[str, str]:
    return dict(ET.parse(path).getroot().find("profile").attrib)


@pytest.fixture(scope="module")
def pal_cut(archive: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pal_cut")
    _cut(archive["pal_wide"], folder / "cut.otio", "--report", str(folder / "report.html"))
    return folder


def test_timeline_and_report_carry_the_display_shape(pal_cut: Path) -> None:
    timeline = otio.adapters.read_from_file(str(pal_cut / "cut.otio"))
    meta = timeline.metadata["scenesem"]
    assert (meta["width"], meta["height"]) == (720, 576)  # stored size
    assert (meta["sample_aspect"], meta["field_order"]) == ("64/45", "tff")
    html = (pal_cut / "report.html").read_text()
    jpeg = base64.b64decode(re.search(r"data:image/jpeg;base64,([^\"']+)", html).group(1))
    thumb = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert abs(thumb.shape[1] / thumb.shape[0] - 16 / 9) < 0.03, thumb.shape


@pytest.mark.parametrize("suffix", [".kdenlive", ".mlt"])
def test_mlt_profiles_say_pixel_shape_and_scan(archive: dict[str, Path], tmp_path: Path,
                                               suffix: str) -> None:
    for key, expected in (("pal_wide", ("64", "45", "16", "9", "0")),
                          ("ntsc_dv", ("8", "9", "4", "3", "0"))):
        out = tmp_path / f"{key}{suffix}"
        _cut(archive[key], out)
        profile = _profile(out)
        assert (profile["sample_aspect_num"], profile["sample_aspect_den"],
                profile["display_aspect_num"], profile["display_aspect_den"],
                profile["progressive"]) == expected


def test_square_progressive_profile_unchanged(tmp_path: Path) -> None:
    video = _encode(tmp_path / "square.mp4", "320x180", "25", "1", ["-c:v", "libx264"],
                    seconds=2, sound=False)
    _cut(video, tmp_path / "square.mlt")
    profile = _profile(tmp_path / "square.mlt")
    assert (profile["sample_aspect_num"], profile["display_aspect_num"],
            profile["display_aspect_den"], profile["progressive"]) == ("1", "16", "9", "1")
    assert profile["description"] == "320x180 25 fps"


@needs_melt
def test_melt_renders_the_wide_picture_unsqueezed(archive: dict[str, Path],
                                                   tmp_path: Path) -> None:
    """melt renders our project at 720x576 with 64/45 pixels: 16:9 shown, and the picture fills
    the frame (a square-pixel profile letterboxes it into 5:4 with black bars)."""
    project = tmp_path / "pal.kdenlive"
    _cut(archive["pal_wide"], project)
    render = tmp_path / "render.mkv"
    assert melt_render(project, render, "vcodec=ffv1", "an=1").returncode == 0
    out = probe(render)
    assert (out.width, out.height, out.display_aspect) == (720, 576, Fraction(16, 9))
    _, frame = next(iter_frames(render))
    rgb = frame.to_ndarray(format="rgb24")
    assert rgb[:8].mean() > 40 and rgb[-8:].mean() > 40  # no black bars above and below


@pytest.mark.parametrize("tag", [90, 270])
def test_portrait_video_is_seen_upright(tmp_path: Path, tag: int) -> None:
    """The backbone's crop and the report's thumbnails of a phone's portrait video equal
    ffmpeg's own autorotated picture (what players show), not the stored landscape frame."""
    stored = _encode(tmp_path / "stored.mp4", "320x180", "25", "1", ["-c:v", "libx264"],
                     seconds=2, sound=False)
    video = tmp_path / f"portrait {tag}.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(stored), "-c", "copy",
                    "-metadata:s:v:0", f"rotate={tag}", str(video)], check=True)
    info = probe(video)
    assert (info.width, info.height) == (180, 320)
    upright = tmp_path / "upright.png"  # ffmpeg turns it as players do (autorotate)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(video), "-frames:v", "1",
                    str(upright)], check=True)
    reference = cv2.imread(str(upright))
    _, frame = next(iter_frames(video))
    crop = square_from_bgr(frame.to_ndarray(format="bgr24"), 64, 1.0, info.rotation)
    expected = square_from_bgr(reference, 64)
    assert np.abs(crop.astype(int) - expected).mean() < 3
    lying = square_from_bgr(frame.to_ndarray(format="bgr24"), 64)
    assert np.abs(lying.astype(int) - expected).mean() > 30

    _cut(video, tmp_path / "cut.otio", "--report", str(tmp_path / "report.html"))
    html = (tmp_path / "report.html").read_text()
    jpeg = base64.b64decode(re.search(r"data:image/jpeg;base64,([^\"']+)", html).group(1))
    thumb = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert thumb.shape[0] > thumb.shape[1]  # portrait
    shown = cv2.resize(reference, (thumb.shape[1], thumb.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(thumb.astype(int) - shown).mean() < 12


def test_baseline_finds_the_cut_in_interlaced_footage(archive: dict[str, Path],
                                                      tmp_path: Path) -> None:
    """PySceneDetect's OpenCV backend converts no frame of interlaced video (opencv-python
    5.0) and so finds no cut; `baseline` reads such media with its PyAV backend."""
    for key, cut in (("pal_wide", 50), ("ntsc_dv", 60)):
        out = tmp_path / f"{key}.otio"
        result = CliRunner().invoke(main, ["baseline", str(archive[key]), "-o", str(out)],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        timeline = otio.adapters.read_from_file(str(out))
        starts = [round(c.range_in_parent().start_time.value)
                  for c in timeline.tracks[0].find_clips()]
        assert starts == [0, cut], (key, starts)


@pytest.mark.parametrize("suffix", [".xml", ".fcpxml", ".kdenlive", ".mlt"])
def test_projects_read_back_with_their_picture_format(archive: dict[str, Path], tmp_path: Path,
                                                      suffix: str) -> None:
    """A project read back (convert, the Blender add-on's import) keeps size, pixel aspect and
    field order (MLT profiles say only `progressive="0"`: the order is the media's), and a
    project read and written again says the same."""
    from scenesem_otio.adapters.formats import read_timeline, write_timeline

    for key, sar, order in (("pal_wide", "64/45", "tff"), ("ntsc_dv", "8/9", "bff")):
        out = tmp_path / f"{key}{suffix}"
        _cut(archive[key], out)
        timeline = read_timeline(out)
        meta = dict(timeline.metadata["scenesem"])
        info = probe(archive[key])
        assert (meta["width"], meta["height"], meta["sample_aspect"], meta.get("field_order")) \
            == (info.width, info.height, sar, order)
        again = tmp_path / f"{key} again{suffix}"
        write_timeline(timeline, again)
        reread = read_timeline(again)
        meta = dict(reread.metadata["scenesem"])
        assert (meta["sample_aspect"], meta.get("field_order")) == (sar, order)


def test_report_heat_map_axes_have_the_shown_shape() -> None:
    """The heat map's keyframe boxes (object-fit: cover) have the picture's shown shape, so a
    PAL 16:9 film's keyframes are not cut to the stored frame's 5:4."""
    from scenesem_otio.core.scenes import Scene
    from scenesem_otio.report.gather import Film
    from scenesem_otio.report.heat import heatmap

    def layout(meta: dict):
        film = Film(name="f", source="f.mpg", meta=meta, rate=Fraction(25), drop=False, base=0,
                    n_frames=100, scenes=[Scene(0, 0, 50), Scene(1, 50, 100)], shots=[],
                    colours=[], nearest=[], dist=np.zeros((2, 2)))
        return heatmap(film, {}).layout

    wide = layout({"width": 720, "height": 576, "sample_aspect": "64/45"})
    assert abs(wide.top_h / wide.axis_len - 9 / 16) < 0.02, wide
    assert abs(wide.left_w / wide.axis_len - 16 / 9) < 0.05, wide
    square = layout({"width": 720, "height": 576})
    assert abs(square.top_h / square.axis_len - 576 / 720) < 0.02, square
