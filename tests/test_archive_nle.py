"""Archive footage in the FCP7 XML and FCPXML writers: PAL 16:9 MPEG-2 (pixels 64/45, top
field first) and NTSC DV 4:3 (pixels 8/9, bottom field first), encoded by ffmpeg, probed and
cut, are described so the NLE shows them unsqueezed with the right field dominance; the clips
still land on their frames when OTIO's readers and ours read the files back; square progressive
media keep the form they had."""

from __future__ import annotations

import logging
import subprocess
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from click.testing import CliRunner
from films import ffmpeg_exe
from lxml import etree

from scenesem_otio.adapters.formats import read_timeline, write_timeline
from scenesem_otio.adapters.nle import fcp7_pixel_aspect
from scenesem_otio.adapters.picture import Picture, picture_format
from scenesem_otio.adapters.timeline import NS, build_timeline, scenes_from_timeline
from scenesem_otio.cli import main
from scenesem_otio.core.scenes import Scene, VideoInfo
from scenesem_otio.media.probe import probe

# name: (ffmpeg picture and sound arguments, suffix, rate, size, SAR, field order,
#        FCP7 pixelaspectratio, anamorphic, fielddominance, FCPXML fieldOrder)
ARCHIVE = {
    "pal-16x9-mpeg2": (["-f", "lavfi", "-i", "testsrc2=size=720x576:rate=25:duration=2",
                        "-f", "lavfi", "-i", "sine=duration=2", "-vf", "setsar=64/45",
                        "-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "1",
                        "-c:a", "mp2"], ".mpg", Fraction(25), (720, 576), Fraction(64, 45),
                       "tff", "PAL-601", "TRUE", "upper", "upper first"),
    "ntsc-4x3-dv": (["-f", "lavfi", "-i", "testsrc2=size=720x480:rate=30000/1001:duration=2",
                     "-f", "lavfi", "-i", "sine=duration=2:sample_rate=48000",
                     "-vf", "setsar=8/9", "-c:v", "dvvideo", "-pix_fmt", "yuv411p",
                     "-c:a", "pcm_s16le", "-ar", "48000", "-ac", "2"], ".dv",
                    Fraction(30000, 1001), (720, 480), Fraction(8, 9), "bff", "NTSC-601",
                    "FALSE", "lower", "lower first"),
}
STARTS = [0, 17, 31]  # scene starts, in frames from the media's first


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("archive")
    out = {}
    for name, (args, suffix, *_) in ARCHIVE.items():
        out[name] = folder / f"{name}{suffix}"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args, str(out[name])], check=True)
    return out


def scene_cut(info: VideoInfo) -> otio.schema.Timeline:
    ends = [*STARTS[1:], info.n_frames]
    return build_timeline(info, [Scene(index=k, start=s, end=e)
                                 for k, (s, e) in enumerate(zip(STARTS, ends))])


def check_frames(path: Path, info: VideoInfo) -> None:
    """Our reader for the format (OTIO's fcp_xml for .xml) gives the scenes back on their
    frames, the sound with them."""
    back = read_timeline(path, rate=info.fps)
    scenes = scenes_from_timeline(back, info, source=str(path))
    assert [(s.start, s.end) for s in scenes] == \
        list(zip(STARTS, [*STARTS[1:], info.n_frames])), path.name
    assert back.audio_tracks(), path.name


def samplecharacteristics(sc: etree._Element) -> dict[str, str]:
    return {c.tag: c.text for c in sc if c.tag != "rate"}


@pytest.mark.parametrize("name", ARCHIVE)
def test_fcp7_xml_names_pixel_aspect_and_field_dominance(archive: dict[str, Path], name: str,
                                                         tmp_path: Path) -> None:
    *_, rate, size, sar, fields, par, anamorphic, dominance, _ = ARCHIVE[name]
    info = probe(archive[name])
    assert (info.fps, (info.width, info.height)) == (rate, size)
    assert (info.sample_aspect, info.field_order) == (sar, fields)  # what the writers are given
    path = tmp_path / "archive.xml"
    write_timeline(scene_cut(info), path)
    root = etree.parse(str(path)).getroot()
    want = {"width": str(size[0]), "height": str(size[1]), "anamorphic": anamorphic,
            "pixelaspectratio": par, "fielddominance": dominance}
    seq = root.find("project/children/sequence/media/video/format/samplecharacteristics")
    assert seq is not None
    # the order FCP7 and Premiere write (and the FCP7 DTD gives): rate, size, then the pixels
    assert [c.tag for c in seq] == ["rate", "width", "height", "anamorphic",
                                    "pixelaspectratio", "fielddominance"]
    assert samplecharacteristics(seq) == want
    files = [f for f in root.iter("file") if f.find("pathurl") is not None]
    assert files
    for f in files:
        (video_sc,) = f.findall("media/video/samplecharacteristics")
        assert samplecharacteristics(video_sc) == want
        assert video_sc.findtext("rate/timebase") == str(round(rate))
    timeline = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    (video,) = timeline.video_tracks()
    fr = float(rate)
    assert [round(c.range_in_parent().start_time.value_rescaled_to(fr))
            for c in video.find_clips()] == STARTS
    check_frames(path, info)


@pytest.mark.parametrize("name", ARCHIVE)
def test_fcpxml_format_has_pixel_aspect_and_field_order(archive: dict[str, Path], name: str,
                                                       tmp_path: Path) -> None:
    *_, rate, size, sar, _, _, _, _, field_order = ARCHIVE[name]
    info = probe(archive[name])
    path = tmp_path / "archive.fcpxml"
    write_timeline(scene_cut(info), path)
    root = etree.parse(str(path)).getroot()
    (fmt,) = root.findall("resources/format")
    assert dict(fmt.attrib) == {
        "id": "r1", "frameDuration": f"{rate.denominator}/{rate.numerator}s",
        "fieldOrder": field_order, "width": str(size[0]), "height": str(size[1]),
        "paspH": str(sar.numerator), "paspV": str(sar.denominator)}  # no progressive preset
    assert root.find("library/event/project/sequence").get("format") == "r1"
    assert {a.get("format") for a in root.iter("asset")} == {"r1"}
    check_frames(path, info)
    if rate.denominator == 1:  # OTIO's fcpx_xml reader counts 29.97 as 29 fps (its own bug)
        (timeline,) = otio.adapters.read_from_file(str(path), adapter_name="fcpx_xml")
        clips = list(timeline.video_tracks()[0].find_clips())
        assert [round(c.range_in_parent().start_time.value_rescaled_to(float(rate)))
                for c in clips] == STARTS


def test_scenesem_cut_describes_archive_media(archive: dict[str, Path], tiny_videomae_dir: Path,
                                              tmp_path: Path) -> None:
    """The real `scenesem cut` path: probe, timeline metadata, both writers."""
    video = archive["pal-16x9-mpeg2"]
    for suffix in (".xml", ".fcpxml"):
        out = tmp_path / f"cut{suffix}"
        result = CliRunner().invoke(main, ["cut", str(video), "-o", str(out), "--model",
                                           str(tiny_videomae_dir), "--min-scene", "0",
                                           "--no-progress"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    root = etree.parse(str(tmp_path / "cut.xml")).getroot()
    sc = root.find("project/children/sequence/media/video/format/samplecharacteristics")
    assert (sc.findtext("pixelaspectratio"), sc.findtext("anamorphic"),
            sc.findtext("fielddominance")) == ("PAL-601", "TRUE", "upper")
    fmt = etree.parse(str(tmp_path / "cut.fcpxml")).getroot().find("resources/format")
    assert (fmt.get("paspH"), fmt.get("paspV"), fmt.get("fieldOrder"), fmt.get("name")) == \
        ("64", "45", "upper first", None)


def test_metadata_else_probe(archive: dict[str, Path], tmp_path: Path) -> None:
    """A timeline without our metadata (from an NLE, an EDL) is described from its first
    clip's media, and written the same as the one that carries it."""
    info = probe(archive["ntsc-4x3-dv"])
    timeline = scene_cut(info)
    assert timeline.metadata[NS]["sample_aspect"] == "8/9"
    assert timeline.metadata[NS]["field_order"] == "bff"
    carried = picture_format(timeline)
    assert carried == Picture(720, 480, Fraction(8, 9), "bff")
    bare = timeline.deepcopy()
    for key in ("width", "height", "sample_aspect", "field_order"):
        del bare.metadata[NS][key]
    assert picture_format(bare) == carried
    for suffix in (".xml", ".fcpxml"):
        write_timeline(timeline, tmp_path / f"meta{suffix}")
        write_timeline(bare, tmp_path / f"probed{suffix}")
        assert (tmp_path / f"meta{suffix}").read_bytes() == \
            (tmp_path / f"probed{suffix}").read_bytes(), suffix


def test_pixels_fcp7_cannot_name_warn_once(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """Pixels 5/4 wide (no FCP7 name): written square with one warning that the NLE shows the
    picture squeezed; FCPXML says 5/4 as it is."""
    media = tmp_path / "odd.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=160x120:rate=25:duration=1", "-vf", "setsar=5/4",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(media)], check=True)
    info = probe(media)
    assert info.sample_aspect == Fraction(5, 4)
    timeline = build_timeline(info, [Scene(index=0, start=0, end=info.n_frames)])
    with caplog.at_level(logging.WARNING, logger="scenesem"):
        write_timeline(timeline, tmp_path / "odd.xml")
    warnings = [r.getMessage() for r in caplog.records if "squeezed" in r.getMessage()]
    assert len(warnings) == 1 and "5/4" in warnings[0]
    root = etree.parse(str(tmp_path / "odd.xml")).getroot()
    pars = [e.text for e in root.iter("pixelaspectratio")]
    assert pars and set(pars) == {"square"}
    assert {e.text for e in root.iter("fielddominance")} == {"none"}
    write_timeline(timeline, tmp_path / "odd.fcpxml")
    fmt = etree.parse(str(tmp_path / "odd.fcpxml")).getroot().find("resources/format")
    assert (fmt.get("paspH"), fmt.get("paspV"), fmt.get("fieldOrder")) == ("5", "4", None)


@pytest.mark.parametrize(("picture", "named"), [
    (Picture(720, 480, Fraction(10, 11)), ("NTSC-601", False)),
    (Picture(720, 480, Fraction(32, 27)), ("NTSC-601", True)),
    (Picture(720, 576, Fraction(59, 54)), ("PAL-601", False)),
    (Picture(720, 576, Fraction(118, 81)), ("PAL-601", True)),
    (Picture(1440, 1080, Fraction(4, 3)), ("HD-(1440x1080)", False)),  # HDV
    (Picture(1280, 1080, Fraction(3, 2)), ("HD-(1280x1080)", False)),  # DVCPRO HD 1080i60
    (Picture(960, 720, Fraction(4, 3)), ("HD-(960x720)", False)),  # DVCPRO HD 720p60
    (Picture(1920, 1080, Fraction(1), "tff"), ("square", False)),
    (Picture(720, 576, Fraction(4, 3)), None),  # 4/3 is an HD shape, not a 720-wide one
])
def test_fcp7_pixel_aspect_names(picture: Picture, named: tuple[str, bool] | None) -> None:
    assert fcp7_pixel_aspect(picture) == named


def test_square_progressive_media_keep_their_form(tmp_path: Path) -> None:
    """What every film before archive media got: a named progressive FCPXML format and FCP7
    sample characteristics of rate and size only."""
    media = tmp_path / "film.mp4"
    media.touch()
    info = VideoInfo(path=str(media), fps=Fraction(25), n_frames=100, width=1920, height=1080)
    timeline = build_timeline(info, [Scene(index=0, start=0, end=100)])
    write_timeline(timeline, tmp_path / "film.fcpxml")
    assert '<format id="r1" name="FFVideoFormat1080p2500" frameDuration="1/25s" ' \
        'width="1920" height="1080"/>' in (tmp_path / "film.fcpxml").read_text()
    write_timeline(timeline, tmp_path / "film.xml")
    root = etree.parse(str(tmp_path / "film.xml")).getroot()
    (sc,) = root.iter("samplecharacteristics")
    assert [c.tag for c in sc] == ["rate", "width", "height"]
    assert [len(v) for v in root.iter("video") if v.getparent().tag == "media" and
            v.getparent().getparent().tag == "file"] == [0]


@pytest.mark.parametrize("width", ["wide", "0", -720, 720.5])
@pytest.mark.parametrize("suffix", [".xml", ".fcpxml", ".kdenlive"])
def test_unusable_size_in_the_metadata_is_probed(archive: dict[str, Path], tmp_path: Path,
                                                 width: object, suffix: str) -> None:
    """A hand-edited table's size that is no positive whole number (`"wide"`, 0, -720) is
    not written into the project, nor a traceback: the media is probed, as for no size."""
    info = probe(archive["ntsc-4x3-dv"])
    timeline = scene_cut(info)
    timeline.metadata[NS]["width"] = width
    assert picture_format(timeline) == Picture(720, 480, Fraction(8, 9), "bff")
    write_timeline(timeline, tmp_path / f"edited{suffix}")
    write_timeline(scene_cut(info), tmp_path / f"cut{suffix}")
    assert (tmp_path / f"edited{suffix}").read_bytes() == (tmp_path / f"cut{suffix}").read_bytes()


@pytest.mark.parametrize("size", [(720, 480), (720, 486), (704, 480), (720, 576), (704, 576)])
@pytest.mark.parametrize("anamorphic", [False, True])
def test_fcp7_names_read_back_are_named_again(tmp_path: Path, size: tuple[int, int],
                                              anamorphic: bool) -> None:
    """The pixel aspect our FCP7 reader gives a named SD frame (4:3 or 16:9 over its size:
    9/10 for FCP7's own 720x486 NTSC) is one the writer names again, so a project read from
    Final Cut (`convert cut.xml -o cut.json`, then back) keeps its name, not `square`."""
    from scenesem_otio.adapters.nle import fcp7_picture_metadata

    width, height = size
    ntsc = height < 576
    name = "NTSC-601" if ntsc else "PAL-601"
    sar = (Fraction(16, 9) if anamorphic else Fraction(4, 3)) * height / width
    info = VideoInfo(path=str(tmp_path / "film.mov"), fps=Fraction(30000, 1001) if ntsc else
                     Fraction(25), n_frames=10, width=width, height=height, sample_aspect=sar,
                     field_order="bff")
    assert fcp7_pixel_aspect(Picture(width, height, sar)) == (name, anamorphic)
    write_timeline(build_timeline(info, [Scene(index=0, start=0, end=10)]),
                   tmp_path / "film.xml")
    assert fcp7_picture_metadata(tmp_path / "film.xml")["sample_aspect"] == \
        f"{sar.numerator}/{sar.denominator}"
