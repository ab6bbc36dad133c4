"""Sound edited apart from its picture survives a Kdenlive (.kdenlive) or Shotcut (.mlt) project:
an L-cut (scene 1's sound running 12 frames under scene 2's picture, scene 2's sound starting
12 frames later in its source) and a second audio track with a clip of another file. The
projects read back with those audio tracks, and `melt` renders the sound of each audio clip
from its own source range (cross-correlation against the source's noise, as in test_melt).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
from films import (
    MELT_AV,
    SAMPLE_RATE,
    add_noise_sound,
    decode_sound,
    lag_and_peak,
    melt_render,
    needs_melt,
    read_stamp,
    render_stamped_film,
)
from opentimelineio.opentime import RationalTime, TimeRange

from scenesem_otio.adapters.formats import read_timeline, write_timeline
from scenesem_otio.adapters.frames import clip_path
from scenesem_otio.adapters.timeline import build_timeline, sound_follows_picture
from scenesem_otio.core.scenes import Scene, VideoInfo
from scenesem_otio.media.decode import iter_frames
from scenesem_otio.media.probe import probe

FPS = Fraction(24000, 1001)
L_CUT = 12  # frames scene 1's sound runs under scene 2's picture
MUSIC_AT = 30  # record frame where the other file's clip starts on A2
MUSIC_SRC = (5, 20)  # its source in and length (frames of the other file)


@pytest.fixture(scope="module")
def films(tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[VideoInfo, VideoInfo, np.ndarray, np.ndarray]:
    """The film (60 frames, three 20-frame shots, start TC 01:00:00:00, noise sound) and
    another file (30 frames, no timecode, other noise), with their sound as ffmpeg decodes it."""
    folder = tmp_path_factory.mktemp("apart")
    render_stamped_film(folder / "film.mp4", FPS, 60, timecode="01:00:00:00",
                        shot_lengths=[20, 20, 20])
    add_noise_sound(folder / "film.mp4", folder / "noisy film.mp4", seed=3)
    render_stamped_film(folder / "other.mp4", FPS, 30)
    add_noise_sound(folder / "other.mp4", folder / "music.mp4", seed=8)
    film, music = folder / "noisy film.mp4", folder / "music.mp4"
    return probe(film), probe(music), decode_sound(film), decode_sound(music)


def rt(n: int) -> RationalTime:
    return RationalTime(n, float(FPS))


def apart(film: VideoInfo, music: VideoInfo) -> otio.schema.Timeline:
    """Picture: scenes [0,20) [40,60) [20,40) (out of order, so a sound that followed its
    picture could not pass for the L-cut's). A1: scene 1's sound 12 frames longer ([0,32)), the
    second clip 12 frames later in its source ([52,60)), the third under its picture. A2: a
    gap, then frames [5,25) of the other file from record frame 30."""
    scenes = [Scene(index=k, start=s, end=s + 20) for k, s in enumerate([0, 40, 20])]
    timeline = build_timeline(film, scenes)
    first, second, _ = timeline.audio_tracks()[0]
    base = film.start_frame
    first.source_range = TimeRange(rt(base), rt(20 + L_CUT))
    second.source_range = TimeRange(rt(base + 40 + L_CUT), rt(20 - L_CUT))
    a2 = otio.schema.Track(name="Sound 2", kind=otio.schema.TrackKind.Audio)
    a2.metadata["scenesem"] = {"channels": 2, "sample_rate": 48000}
    a2.append(otio.schema.Gap(source_range=TimeRange(rt(0), rt(MUSIC_AT))))
    a2.append(otio.schema.Clip(
        name="music", source_range=TimeRange(rt(MUSIC_SRC[0]), rt(MUSIC_SRC[1])),
        media_reference=otio.schema.ExternalReference(
            target_url=Path(music.path).absolute().as_uri(),
            available_range=TimeRange(rt(0), rt(music.n_frames)))))
    timeline.tracks.append(a2)
    return timeline


def placed(track: otio.schema.Track) -> list[tuple]:
    return [(Path(clip_path(c) or "").resolve(), c.source_range, c.range_in_parent().start_time)
            for c in track.find_clips(shallow_search=True)]


def test_sound_that_follows_its_picture_is_told_apart(films: tuple) -> None:
    film, music, _, _ = films
    scenes = [Scene(index=k, start=s, end=s + 20) for k, s in enumerate([0, 40, 20])]
    assert sound_follows_picture(build_timeline(film, scenes))
    assert not sound_follows_picture(apart(film, music))


@pytest.mark.parametrize("suffix", [".kdenlive", ".mlt"])
def test_projects_read_back_with_the_sound_edited_apart(films: tuple, tmp_path: Path,
                                                         suffix: str) -> None:
    film, music, _, _ = films
    timeline = apart(film, music)
    write_timeline(timeline, tmp_path / f"apart{suffix}")
    back = read_timeline(tmp_path / f"apart{suffix}")
    assert [t.name for t in back.audio_tracks()] == ["Sound", "Sound 2"]
    assert placed(back.video_tracks()[0]) == placed(timeline.video_tracks()[0])
    for got, want in zip(back.audio_tracks(), timeline.audio_tracks()):
        assert placed(got) == placed(want), got.name
    assert not sound_follows_picture(back)


def props(el: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.text or "" for p in el.findall("property")}


def test_kdenlive_groups_only_the_sound_that_coincides(films: tuple, tmp_path: Path) -> None:
    """Tracks A2, A1, V1 bottom to top, a mix for each audio track, both files in the bin,
    and an AVSplit group only for the third scene, whose sound lies under its picture."""
    film, music, _, _ = films
    write_timeline(apart(film, music), tmp_path / "apart.kdenlive")
    root = ET.parse(tmp_path / "apart.kdenlive").getroot()
    main = root.findall("tractor")[-1]
    tracks = [root.find(f"tractor[@id='{t.get('producer')}']") for t in main.findall("track")[1:]]
    assert [props(t)["kdenlive:track_name"] for t in tracks] == ["Sound 2", "Sound", "Scenes"]
    assert [props(t).get("kdenlive:audio_track") for t in tracks] == ["1", "1", None]
    assert [props(m)["b_track"] for m in main.findall("transition")] == ["1", "2"]
    bins = [props(el) for el in root if el.tag == "producer" and "kdenlive:id" in props(el)]
    assert [b["resource"] for b in bins] == [film.path, music.path]
    groups = json.loads(props(root.find("playlist[@id='main_bin']"))[
        "kdenlive:docproperties.groups"])
    assert groups == [{"type": "AVSplit", "children": [
        {"data": "2:40", "leaf": "clip", "type": "Leaf"},
        {"data": "1:40", "leaf": "clip", "type": "Leaf"}]}]


def test_shotcut_mutes_the_picture_where_audio_tracks_carry_the_sound(films: tuple,
                                                                       tmp_path: Path) -> None:
    film, music, _, _ = films
    write_timeline(apart(film, music), tmp_path / "apart.mlt")
    root = ET.parse(tmp_path / "apart.mlt").getroot()
    main = root.findall("tractor")[-1]
    assert [(t.get("producer"), t.get("hide")) for t in main.findall("track")] == [
        ("background", None), ("playlist0", "audio"), ("playlist1", "video"),
        ("playlist2", "video")]
    audio = [props(root.find(f"playlist[@id='playlist{k}']")) for k in (1, 2)]
    assert [(a["shotcut:audio"], a["shotcut:name"]) for a in audio] == \
        [("1", "Sound"), ("1", "Sound 2")]
    assert [props(m)["b_track"] for m in main.findall("transition")] == ["1", "2", "3"]


@needs_melt
@pytest.mark.parametrize("suffix", [".kdenlive", ".mlt"])
def test_melt_renders_the_l_cut_and_the_second_audio_track(films: tuple, tmp_path: Path,
                                                           suffix: str) -> None:
    """Under the first 12 frames of scene 2's picture the render's sound is scene 1's (frames
    20-31 of the source, lag within 1 ms, and nothing else heard there: the picture's own sound
    is not played twice); A1's second clip and A2's clip play from their own source ranges."""
    film, music, source, other = films
    timeline = apart(film, music)
    project = tmp_path / f"apart{suffix}"
    write_timeline(timeline, project)
    render = tmp_path / "render.mkv"
    proc = melt_render(project, render, *MELT_AV)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = [read_stamp(frame.to_ndarray(format="gray")) for _, frame in iter_frames(render)]
    assert got == [*range(0, 20), *range(40, 60), *range(20, 40)]
    sound = decode_sound(render)
    per_frame = SAMPLE_RATE / FPS

    def lag(src: np.ndarray, record: int, src_frame: int, n: int) -> tuple[int, float]:
        return lag_and_peak(sound, src, round(record * per_frame), round(src_frame * per_frame),
                            round(n * per_frame), search=SAMPLE_RATE // 10)

    shift, peak = lag(source, 21, 21, MUSIC_AT - 22)  # the L-cut, alone on the timeline
    assert abs(shift) <= SAMPLE_RATE // 1000 and peak > 0.9, (shift, peak)
    shift, peak = lag(source, 33, 53, 6)  # A1's second clip, under A2's
    assert abs(shift) <= SAMPLE_RATE // 1000 and peak > 0.5, (shift, peak)
    at = MUSIC_AT + 11  # A2's clip, 11 frames in, over A1's third clip
    shift, peak = lag(other, at, MUSIC_SRC[0] + 11, 8)
    assert abs(shift) <= SAMPLE_RATE // 1000 and peak > 0.5, (shift, peak)
