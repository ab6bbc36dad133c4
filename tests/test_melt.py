"""A real client: MLT's `melt` renders our .kdenlive and .mlt projects of films that carry a start
timecode, and every frame of the render is the source frame the timeline names.

The films stamp each frame with its number as a bar code (`films.render_stamped_film`), so the
render is read back exactly; a copy with a white-noise sound track (`films.add_noise_sound`)
shows by cross-correlation that the render's sound under every clip is the source's from the
right place. melt comes from Debian (`.ci/run` installs it); where it is missing the render
tests skip, the project-structure tests still run.
"""

from __future__ import annotations

import json
import subprocess
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
    clip_sound_lags,
    decode_sound,
    melt_render,
    needs_melt,
    read_stamp,
    render_stamped_film,
)

from scenesem_otio.adapters.formats import read_timeline, write_timeline
from scenesem_otio.adapters.nle import timecode
from scenesem_otio.adapters.timeline import build_timeline
from scenesem_otio.core.scenes import Scene, VideoInfo
from scenesem_otio.media.decode import iter_frames
from scenesem_otio.media.probe import probe

# (id, rate, start TC, shot lengths = scenes). 23.976 NDF from 01:00:00:00; 29.97 DF from
# 00:00:59;20, so the drop (;00 and ;01 of minute 1 do not exist) falls inside the film: the
# third scene starts on 00:01:00;02, the frame right after the drop.
FILMS = {
    "23.976": (Fraction(24000, 1001), "01:00:00:00", [20, 17, 13, 22]),
    "29.97df": (Fraction(30000, 1001), "00:00:59;20", [9, 1, 2, 21, 27]),
}
DISTANCES = [None, 0.71, 0.3, 0.1, 0.55]


@pytest.fixture(scope="module")
def stamped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[VideoInfo, list[Scene]]]:
    folder = tmp_path_factory.mktemp("stamped")
    out = {}
    for key, (fps, tc, lengths) in FILMS.items():
        path = folder / f"film {key}.mp4"
        render_stamped_film(path, fps, sum(lengths), timecode=tc, shot_lengths=lengths)
        info = probe(path)
        starts = [sum(lengths[:k]) for k in range(len(lengths))]
        scenes = [Scene(index=k, start=s, end=s + n, first_shot=k, boundary_score=0.5,
                        distance_prev=DISTANCES[k], nearest=[(0, 0.4)] if k else [])
                  for k, (s, n) in enumerate(zip(starts, lengths))]
        out[key] = (info, scenes)
    return out


def test_films_carry_their_timecode(stamped: dict) -> None:
    info, scenes = stamped["23.976"]
    assert (info.start_frame, info.drop_frame) == (86400, False)
    info, scenes = stamped["29.97df"]
    assert (info.start_frame, info.drop_frame) == (1790, True)
    assert timecode(info.start_frame + scenes[2].start, info.fps, True) == "00:01:00;02"
    assert timecode(info.start_frame + scenes[2].start - 1, info.fps, True) == "00:00:59;29"


def edit(info: VideoInfo, scenes: list[Scene], order: str) -> otio.schema.Timeline:
    """The scene timeline; `reversed` plays the scenes last to first, so a writer that ignores
    in/out points (or plays the file through) cannot pass. The sound is reversed with its
    picture (as `cut` would write that order): a sound track left in film order is sound
    edited apart from the picture, which the writers keep as it stands."""
    timeline = build_timeline(info, scenes, metadata={"model": "test"})
    if order == "reversed":
        for track in timeline.tracks:
            clips = list(track)
            while len(track):
                del track[0]
            for clip in reversed(clips):
                track.append(clip)
    return timeline


def expected_frames(timeline: otio.schema.Timeline, info: VideoInfo) -> list[int]:
    """Source frame (from the media's first frame) of every record frame."""
    out: list[int] = []
    for clip in timeline.tracks[0].find_clips():
        start = clip.source_range.start_time.to_frames() - info.start_frame
        out += range(start, start + clip.source_range.duration.to_frames())
    return out


@needs_melt
@pytest.mark.parametrize("suffix", [".kdenlive", ".mlt"])
@pytest.mark.parametrize("order", ["natural", "reversed"])
@pytest.mark.parametrize("film", list(FILMS))
def test_melt_renders_every_scene_on_its_frames(stamped: dict, tmp_path: Path, film: str,
                                                order: str, suffix: str) -> None:
    info, scenes = stamped[film]
    timeline = edit(info, scenes, order)
    project = tmp_path / f"edit{suffix}"
    write_timeline(timeline, project)
    render = tmp_path / "render.mkv"  # FFV1: lossless, the bar codes come back exact
    proc = melt_render(project, render, "vcodec=ffv1", "an=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert probe(render).fps == info.fps  # the project's profile is the media's rate

    got = [read_stamp(frame.to_ndarray(format="gray")) for _, frame in iter_frames(render)]
    want = expected_frames(timeline, info)
    assert len(got) == info.n_frames == len(want)  # exactly the film's length, no black tail
    record = 0
    for clip in timeline.tracks[0].find_clips():
        n = clip.source_range.duration.to_frames()
        first, last = record, record + n - 1
        assert (got[first], got[last]) == (want[first], want[last]), (clip.name, first, last)
        record += n
    assert got == want  # and every frame between


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def props(el: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.text or "" for p in el.findall("property")}


def test_kdenlive_project_as_kdenlive_reads_it(stamped: dict, tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    info, scenes = stamped["23.976"]
    timeline = edit(info, scenes, "natural")
    capfd.readouterr()
    write_timeline(timeline, tmp_path / "cut.kdenlive")
    assert capfd.readouterr() == ("", "")  # no deprecation banner on the user's terminal
    root = parse(tmp_path / "cut.kdenlive")
    profile = root.find("profile")
    assert (profile.get("frame_rate_num"), profile.get("frame_rate_den")) == ("24000", "1001")
    assert (profile.get("width"), profile.get("height")) == ("320", "180")
    assert profile.get("progressive") == "1"
    tractors = root.findall("tractor")
    assert tractors[-1].get("out") == str(info.n_frames - 1)  # melt stops at the film's end
    bins = [el for el in root if el.tag == "producer" and "kdenlive:id" in props(el)]
    assert len(bins) == 1
    media = props(bins[0])
    assert media["kdenlive:clipname"] == Path(info.path).name
    assert media["resource"] == info.path
    assert media["mlt_service"] == "avformat"  # opened on load: Kdenlive sees its streams
    entries = [e for e in root.iter("entry") if e.find("property") is not None]
    assert [(int(e.get("in")), int(e.get("out"))) for e in entries] == \
        [(s.start, s.end - 1) for s in scenes]  # from the first frame, not 01:00:00:00
    clip_markers = json.loads(media["kdenlive:markers"])
    assert [m["comment"] for m in clip_markers] == [f"Scene {k + 1:03d}" for k in range(4)]
    assert all(s.start < m["pos"] < s.end for m, s in zip(clip_markers[1:], scenes[1:]))
    main_bin = props(root.find("playlist[@id='main_bin']"))
    assert main_bin["kdenlive:docproperties.version"] == "1.04"
    guides = json.loads(main_bin["kdenlive:docproperties.guides"])
    assert [g["pos"] for g in guides] == [s.start for s in scenes]
    assert [g["comment"] for g in guides] == ["S001", "S002 Δ0.71", "S003 Δ0.30", "S004 Δ0.10"]
    assert [g["type"] for g in guides] == [3, 8, 5, 3]  # green, red, yellow, green
    assert "nearest earlier scenes: S001 (0.40)" in main_bin["kdenlive:documentnotes"]


def test_shotcut_project_as_shotcut_reads_it(stamped: dict, tmp_path: Path) -> None:
    info, scenes = stamped["29.97df"]
    timeline = edit(info, scenes, "natural")
    write_timeline(timeline, tmp_path / "cut.mlt")
    root = parse(tmp_path / "cut.mlt")
    profile = root.find("profile")
    assert (profile.get("frame_rate_num"), profile.get("frame_rate_den")) == ("30000", "1001")
    main = root.findall("tractor")[-1]
    assert props(main)["shotcut"] == "1" and main.get("out") == str(info.n_frames - 1)
    assert [t.get("producer") for t in main.findall("track")] == ["background", "playlist0"]
    playlist = root.find("playlist[@id='playlist0']")
    assert props(playlist)["shotcut:name"] == "Scenes"
    assert [(int(e.get("in")), int(e.get("out"))) for e in playlist.findall("entry")] == \
        [(s.start, s.end - 1) for s in scenes]
    markers = main.find("properties[@name='shotcut:markers']")
    texts = [props(m)["text"] for m in markers]
    assert texts == ["S001", "S002 Δ0.71", "S003 Δ0.30", "S004 Δ0.10", "S005 Δ0.55"]
    # Shotcut's clock times, which MLT reads back to the frame at 30000/1001.
    assert [props(m)["start"] for m in markers][2] == "00:00:00.334"  # frame 10
    assert props(markers[1])["color"] == "#da4453"


@pytest.mark.parametrize("suffix", [".kdenlive", ".mlt"])
def test_projects_read_back_with_names_markers_and_timecode(stamped: dict, tmp_path: Path,
                                                            suffix: str) -> None:
    info, scenes = stamped["29.97df"]
    timeline = edit(info, scenes, "reversed")
    write_timeline(timeline, tmp_path / f"cut{suffix}")
    back = read_timeline(tmp_path / f"cut{suffix}")
    clips = list(back.find_clips())
    assert [c.name for c in clips] == [c.name for c in timeline.find_clips()]
    assert [c.source_range for c in clips] == [c.source_range for c in timeline.find_clips()]
    assert [[m.name for m in c.markers] for c in clips] == \
        [[m.name for m in c.markers] for c in timeline.find_clips()]
    assert [[m.marked_range.start_time for m in c.markers] for c in clips] == \
        [[m.marked_range.start_time for m in c.markers] for c in timeline.find_clips()]


# ---------------------------------------------------------------- the film's sound (issue 24)

@pytest.fixture(scope="module")
def noisy(stamped: dict, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[VideoInfo, list[Scene], np.ndarray]:
    """The 23.976 film (start TC 01:00:00:00) with a stereo AAC noise track, its scenes, and
    its sound as ffmpeg decodes it (the reference the renders are held against)."""
    info, scenes = stamped["23.976"]
    path = tmp_path_factory.mktemp("noisy") / "noisy film.mp4"
    add_noise_sound(Path(info.path), path, seed=3)
    return probe(path), scenes, decode_sound(path)


@needs_melt
@pytest.mark.parametrize("suffix", [".kdenlive", ".mlt"])
@pytest.mark.parametrize("order", ["natural", "reversed"])
def test_melt_renders_the_sound_under_every_clip(noisy: tuple, tmp_path: Path, order: str,
                                                 suffix: str) -> None:
    """Under every clip the render's sound is the source's from that clip's source range:
    cross-correlation lag within 1 ms, and the picture still plays its frames."""
    info, scenes, source = noisy
    timeline = edit(info, scenes, order)
    assert [t.name for t in timeline.tracks] == ["Scenes", "Sound"]
    project = tmp_path / f"sound{suffix}"
    write_timeline(timeline, project)
    render = tmp_path / "render.mkv"
    proc = melt_render(project, render, *MELT_AV)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = [read_stamp(frame.to_ndarray(format="gray")) for _, frame in iter_frames(render)]
    assert got == expected_frames(timeline, info)
    sound = decode_sound(render)
    per_frame = SAMPLE_RATE / info.fps
    assert abs(len(sound) - info.n_frames * per_frame) < per_frame  # the film's length
    for name, lag, peak in clip_sound_lags(sound, source, timeline, info):
        assert abs(lag) <= SAMPLE_RATE // 1000, (name, lag)  # 1 ms
        # 1.0 but where MLT seeks back to the file's first frame: its AAC decode then differs
        # for ~0.3 s (0.94 over the clip); the lag, not the level, places the sound.
        assert peak > 0.9, (name, peak)


def test_kdenlive_groups_each_scene_with_its_sound(noisy: tuple, tmp_path: Path) -> None:
    """Audio track `Sound` under V1 `Scenes`, each scene's picture and sound one AVSplit group
    (leaves `track position:record frame`, audio track 0, video 1), and a mix transition."""
    info, scenes, _ = noisy
    write_timeline(edit(info, scenes, "natural"), tmp_path / "cut.kdenlive")
    root = parse(tmp_path / "cut.kdenlive")
    main = root.findall("tractor")[-1]
    tracks = [root.find(f"tractor[@id='{t.get('producer')}']") for t in main.findall("track")[1:]]
    assert [props(t)["kdenlive:track_name"] for t in tracks] == ["Sound", "Scenes"]
    assert props(tracks[0]).get("kdenlive:audio_track") == "1"
    assert {t.get("hide") for t in tracks[0].findall("track")} == {"video"}
    assert {t.get("hide") for t in tracks[1].findall("track")} == {"audio"}
    (mix,) = main.findall("transition")
    assert props(mix)["mlt_service"] == "mix" and props(mix)["b_track"] == "1"
    groups = json.loads(props(root.find("playlist[@id='main_bin']"))[
        "kdenlive:docproperties.groups"])
    assert groups == [{"type": "AVSplit", "children": [
        {"data": f"1:{s.start}", "leaf": "clip", "type": "Leaf"},
        {"data": f"0:{s.start}", "leaf": "clip", "type": "Leaf"}]} for s in scenes]
    back = read_timeline(tmp_path / "cut.kdenlive")
    assert [c.source_range for c in back.audio_tracks()[0]] == \
        [c.source_range for c in back.video_tracks()[0]]


@needs_melt
def test_kdenlive_bin_clip_loads_with_its_sound_streams(noisy: tuple, tmp_path: Path) -> None:
    """The bin clip's service is one MLT opens on load, so the producer Kdenlive gets carries
    `meta.media.*` and an `audio_index` naming the audio stream: Kdenlive 22.12 counts a clip's
    sound channels from those alone and runs no waveform job for a clip with none (under
    `avformat-novalidate` MLT gives neither: audio_index 0, the picture stream)."""
    info, scenes, _ = noisy
    write_timeline(edit(info, scenes, "natural"), tmp_path / "cut.kdenlive")
    root = parse(tmp_path / "cut.kdenlive")
    (bin_clip,) = [el for el in root if el.tag == "producer" and "kdenlive:id" in props(el)]
    service, resource = props(bin_clip)["mlt_service"], props(bin_clip)["resource"]
    loaded = tmp_path / "loaded.xml"  # the producer as MLT builds it from the document
    proc = subprocess.run(["melt", f"{service}:{resource}", "-consumer", f"xml:{loaded}"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (producer,) = parse(loaded).iter("producer")
    facts = props(producer)
    audio = facts["audio_index"]
    assert facts.get(f"meta.media.{audio}.stream.type") == "audio", facts
    assert facts.get(f"meta.media.{audio}.codec.channels") == "2"


def test_shotcut_clips_show_their_scene_names(noisy: tuple, tmp_path: Path) -> None:
    """Each clip its own chain captioned with the scene's name (Shotcut shows the caption on
    the clip); the sound plays from the video track, as Shotcut's own clips do."""
    info, scenes, _ = noisy
    write_timeline(edit(info, scenes, "natural"), tmp_path / "cut.mlt")
    root = parse(tmp_path / "cut.mlt")
    entries = root.find("playlist[@id='playlist0']").findall("entry")
    chains = {c.get("id"): props(c) for c in root.findall("chain")}
    assert [chains[e.get("producer")]["shotcut:caption"] for e in entries] == \
        [f"Scene {k + 1:03d}" for k in range(len(scenes))]
    assert {c["resource"] for c in chains.values()} == {info.path}
    back = read_timeline(tmp_path / "cut.mlt")
    assert [t.name for t in back.tracks] == ["Scenes", "Sound"]
