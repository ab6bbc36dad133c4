"""Sound edited apart from its picture survives .edl, .xml (FCP7) and .fcpxml: an L-cut (the
first scene's sound runs 12 frames under the second's picture) and a music file on a second
audio track from record frame 30 are written as the audio tracks' own clips and read back at
their own source ranges, record frames and files. A timeline whose sound follows its picture
(what `scenesem cut` writes) keeps today's linked form (tests/test_sound.py)."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pycmx
import pytest
from click.testing import CliRunner
from films import add_noise_sound, ffmpeg_exe, render_film
from lxml import etree
from opentimelineio.opentime import RationalTime, TimeRange

from scenesem_otio.adapters.formats import read_timeline, write_timeline
from scenesem_otio.adapters.frames import clip_path
from scenesem_otio.adapters.timeline import build_timeline, sound_follows_picture
from scenesem_otio.cli import main
from scenesem_otio.core.scenes import Scene
from scenesem_otio.media.probe import probe

RATE = Fraction(24000, 1001)
FR = float(RATE)
SCENES = [(0, 30), (30, 55), (55, 90)]
TC = 86400  # 01:00:00:00 at 23.976 (counted at 24)
LCUT = 12
MUSIC_AT, MUSIC_IN, MUSIC_LEN = 30, 10, 40


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 23.976 film from 01:00:00:00 with stereo sound, and a 4 s stereo music file."""
    folder = tmp_path_factory.mktemp("split_sound")
    silent = folder / "silent.mp4"
    render_film(silent, RATE, [b - a for a, b in SCENES], width=64, height=36,
                timecode="01:00:00:00")
    film = folder / "film with sound.mp4"
    add_noise_sound(silent, film, seed=5)
    music = folder / "music.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=4", "-ac", "2", str(music)], check=True)
    return film, music


def rt(n: int) -> RationalTime:
    return RationalTime(n, FR)


@pytest.fixture(scope="module")
def timeline(media: tuple[Path, Path]) -> otio.schema.Timeline:
    """3 scene clips of the film; its sound L-cut; the music on `Sound 2` from frame 30."""
    film, music = media
    t = build_timeline(probe(film), [Scene(index=k, start=s, end=e)
                                     for k, (s, e) in enumerate(SCENES)])
    assert sound_follows_picture(t)
    (sound,) = t.audio_tracks()
    first, second, _ = sound
    first.source_range = TimeRange(first.source_range.start_time,
                                   first.source_range.duration + rt(LCUT))
    second.source_range = TimeRange(second.source_range.start_time + rt(LCUT),
                                    second.source_range.duration - rt(LCUT))
    track = otio.schema.Track(name="Sound 2", kind=otio.schema.TrackKind.Audio)
    track.metadata["scenesem"] = {"channels": 2, "sample_rate": 44100}
    track.append(otio.schema.Gap(duration=rt(MUSIC_AT)))
    track.append(otio.schema.Clip(
        name="Music", source_range=TimeRange(rt(MUSIC_IN), rt(MUSIC_LEN)),
        media_reference=otio.schema.ExternalReference(
            target_url=music.absolute().as_uri(), available_range=TimeRange(rt(0), rt(96)))))
    t.tracks.append(track)
    assert not sound_follows_picture(t)
    return t


def expected(film: Path, music: Path) -> list[list[tuple[str, int, int, int]]]:
    """Per audio track: (file, source in, duration, record frame from the timeline start)."""
    (a0, a1), (b0, b1), (c0, c1) = SCENES
    return [[(str(film), TC + a0, a1 - a0 + LCUT, 0),
             (str(film), TC + b0 + LCUT, b1 - b0 - LCUT, b0 + LCUT),
             (str(film), TC + c0, c1 - c0, c0)],
            [(str(music), MUSIC_IN, MUSIC_LEN, MUSIC_AT)]]


def edl_file(clip: otio.schema.Clip) -> str:
    """The file an EDL event names: OTIO's cmx reader keeps `* SOURCE FILE:` as a comment
    (it links media only from `* FROM FILE:`/`* FROM CLIP:`) beside the reel."""
    comments = clip.metadata["cmx_3600"]["comments"]
    return next(c.split(": ", 1)[1] for c in comments if c.startswith("SOURCE FILE: "))


def placed(track: otio.schema.Track, offset: int = 0, file: Any = clip_path
           ) -> list[tuple[str, int, int, int]]:
    """(file, source in counted from the media's start TC, duration, record frame) per clip;
    `offset` = the track's first record frame where the reader keeps it apart (EDL)."""
    out = []
    for c in track.find_clips(shallow_search=True):
        out.append((file(c) or "", round(c.source_range.start_time.value_rescaled_to(FR)),
                    round(c.source_range.duration.value_rescaled_to(FR)),
                    offset + round(c.range_in_parent().start_time.value_rescaled_to(FR))))
    return out


def test_the_edl_writes_picture_and_sound_events_apart(media: tuple[Path, Path],
                                                       timeline: otio.schema.Timeline,
                                                       tmp_path: Path) -> None:
    film, music = media
    path = tmp_path / "edit.edl"
    write_timeline(timeline, path)
    with path.open() as f:
        events = [e.edits[0] for e in pycmx.parse_cmx3600(f).events]
    assert [(e.channels.video, e.channels.a1, e.channels.a2) for e in events] == [
        (True, False, False), (False, True, False), (True, False, False),
        (False, False, True), (False, True, False), (True, False, False), (False, True, False)]
    assert [e.source for e in events if e.channels.a2] == ["MUSIC"]
    back = read_timeline(path, rate=RATE)
    tracks = {t.name: t for t in back.tracks}
    assert set(tracks) == {"V", "A1", "A2"}
    # OTIO's cmx reader starts each track at its first event: the track's source_range
    # start is minus that record timecode.
    rec = [round(-tracks[n].source_range.start_time.value_rescaled_to(FR)) - TC
           for n in ("A1", "A2")]
    assert [placed(tracks["A1"], rec[0], edl_file), placed(tracks["A2"], rec[1], edl_file)] == \
        expected(film, music)
    assert [c.metadata["cmx_3600"]["reel"] for c in tracks["A2"].find_clips()] == ["MUSIC"]
    assert [c.source_range for c in tracks["V"].find_clips()] == \
        [c.source_range for c in timeline.video_tracks()[0].find_clips()]


@pytest.mark.parametrize("suffix", [".xml", ".fcpxml"])
def test_xml_formats_read_the_sound_back_at_its_own_frames(
        media: tuple[Path, Path], timeline: otio.schema.Timeline, tmp_path: Path,
        suffix: str) -> None:
    film, music = media
    path = tmp_path / f"edit{suffix}"
    write_timeline(timeline, path)
    back = read_timeline(path, rate=RATE)
    audio = list(back.audio_tracks())
    want = expected(film, music)
    if suffix == ".xml":  # FCP7: a sequence track per channel, both stereo: A1 A2 | A3 A4
        assert len(audio) == 4
        got = [placed(audio[0]), placed(audio[2])]
        assert placed(audio[1]) == got[0] and placed(audio[3]) == got[1]
    else:
        assert len(audio) == 2
        got = [placed(t) for t in audio]
    assert got == want, suffix
    assert [c.source_range for c in back.video_tracks()[0].find_clips()] == \
        [c.source_range for c in timeline.video_tracks()[0].find_clips()]


def test_fcp7_links_only_the_sound_that_coincides_with_its_picture(
        timeline: otio.schema.Timeline, tmp_path: Path) -> None:
    path = tmp_path / "edit.xml"
    write_timeline(timeline, path)
    seq = etree.parse(str(path)).getroot().find("project/children/sequence")
    video = seq.findall("media/video/track/clipitem")
    links = [[ref.text for ref in v.findall("link/linkclipref")] for v in video]
    # Scene 3's sound is its own (not L-cut): picture + two channels; scenes 1 and 2 none
    assert [len(x) for x in links] == [0, 0, 3]
    music = seq.findall("media/audio/track")[2].find("clipitem")
    assert music.find("file/pathurl").text.endswith("music.wav")
    assert music.findtext("file/media/audio/samplecharacteristics/samplerate") == "44100"
    assert [ref.text for ref in music.findall("link/linkclipref")] == \
        ["clipitem-a3-1", "clipitem-a4-1"]


def test_fcpxml_connects_audio_only_clips_and_mutes_the_picture(
        timeline: otio.schema.Timeline, tmp_path: Path) -> None:
    path = tmp_path / "edit.fcpxml"
    write_timeline(timeline, path)
    spine = etree.parse(str(path)).getroot().find("library/event/project/sequence/spine")
    clips = spine.findall("asset-clip")
    assert [c.get("srcEnable") for c in clips] == ["video"] * 3
    connected = [(c.get("name"), c.get("lane"), c.get("srcEnable")) for c in clips[1]]
    assert ("Music", "-2", "audio") in connected


def test_fcpxml_anchors_sound_outside_the_picture_to_gaps(
        timeline: otio.schema.Timeline, tmp_path: Path) -> None:
    """Sound under a gap before the picture and music after the last picture clip: each
    connected clip hangs on the spine element playing at its first frame (a leading gap, a
    gap after the picture), inside that element's range, and reads back at its frames."""
    t = timeline.deepcopy()
    t.video_tracks()[0].insert(0, otio.schema.Gap(duration=rt(10)))
    first = t.audio_tracks()[1].find_clips()[0]
    late = otio.schema.Clip(name="Coda", source_range=TimeRange(rt(0), rt(20)),
                            media_reference=first.media_reference.clone())
    t.audio_tracks()[1].append(otio.schema.Gap(duration=rt(110 - MUSIC_AT - MUSIC_LEN)))
    t.audio_tracks()[1].append(late)  # frames 110-130; the picture ends at 100
    path = tmp_path / "edit.fcpxml"
    write_timeline(t, path)
    seq = etree.parse(str(path)).getroot().find("library/event/project/sequence")
    secs = lambda el, key: Fraction((el.get(key) or "0s").rstrip("s"))  # noqa: E731
    spine = list(seq.find("spine"))
    assert [e.tag for e in spine] == ["gap", *["asset-clip"] * 3, "gap"]
    assert secs(seq, "duration") == Fraction(130) / RATE
    for parent in spine:
        for child in parent.findall("asset-clip"):
            own = secs(parent, "start")
            assert own <= secs(child, "offset") < own + secs(parent, "duration"), \
                child.get("name")
    assert [c.get("name") for c in spine[0].findall("asset-clip")] == [first_name(t)]
    assert [c.get("name") for c in spine[-1].findall("asset-clip")] == ["Coda"]
    back = read_timeline(path, rate=RATE)
    assert [placed(track) for track in back.audio_tracks()] == \
        [placed(track) for track in t.audio_tracks()]
    assert [c.source_range for c in back.video_tracks()[0].find_clips()] == \
        [c.source_range for c in t.video_tracks()[0].find_clips()]


def first_name(t: otio.schema.Timeline) -> str:
    return t.audio_tracks()[0].find_clips()[0].name


def blender_json(timeline: otio.schema.Timeline, path: Path) -> None:
    """The timeline as the Blender add-on exports it: a row per strip, sound rows of kind
    "Audio" on their own tracks with their file, range and place (`tables.read_json`)."""
    rows = []
    for number, track in enumerate(timeline.tracks):
        for c in track.find_clips(shallow_search=True):
            first = round(c.media_reference.available_range.start_time.value_rescaled_to(FR))
            start = round(c.source_range.start_time.value_rescaled_to(FR)) - first
            dur = round(c.source_range.duration.value_rescaled_to(FR))
            row = {"name": c.name, "track": number, "kind": str(track.kind),
                   "start_frame": start, "end_frame": start + dur, "media_start_frame": first,
                   "media_in_frame": start, "media": c.media_reference.target_url,
                   "timeline_frame": round(c.range_in_parent().start_time.value_rescaled_to(FR))}
            if track.kind == otio.schema.TrackKind.Audio:
                meta = track.metadata["scenesem"]
                row |= {"audio_channels": meta["channels"], "sample_rate": meta["sample_rate"]}
            rows.append(row)
    path.write_text(json.dumps({"format": "scenesem-scenes", "name": "edit", "clips": rows,
                                "metadata": {"fps": "24000/1001",
                                             "start_timecode": "01:00:00:00"}}))


@pytest.mark.parametrize("suffix", [".edl", ".xml", ".fcpxml"])
def test_convert_of_a_blender_export_keeps_the_sound_edit(
        media: tuple[Path, Path], timeline: otio.schema.Timeline, tmp_path: Path,
        suffix: str) -> None:
    """`scenesem convert edit.json -o edit.EXT` of the add-on's export, as a user runs it."""
    film, music = media
    blender_json(timeline, tmp_path / "edit.json")
    out = tmp_path / f"edit{suffix}"
    result = CliRunner().invoke(main, ["convert", str(tmp_path / "edit.json"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    back = read_timeline(out, rate=RATE)
    audio = list(back.audio_tracks())
    if suffix == ".edl":
        offsets = [round(-t.source_range.start_time.value_rescaled_to(FR)) - TC for t in audio]
        got = [placed(t, k, edl_file) for t, k in zip(audio, offsets)]
    else:
        got = [placed(t) for t in audio][::2 if suffix == ".xml" else 1]
    assert got == expected(film, music), suffix
