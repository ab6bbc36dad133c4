"""The `scenesem` OTIO adapter plugin (SPEC §5): registered, torch-free until used, and
`otioconvert -I scenesem` cuts a real film."""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import opentimelineio as otio
import pytest

from scenesem_otio.adapters.formats import read_timeline
from scenesem_otio.adapters.timeline import cuts_from_timeline, scenes_from_timeline
from scenesem_otio.media.probe import probe


def test_adapter_registered() -> None:
    assert "scenesem" in otio.adapters.available_adapter_names()
    adapter = otio.adapters.from_name("scenesem")
    assert list(adapter.suffixes) == []
    assert "read_from_file" in adapter.module().__dict__


def test_plugin_does_not_import_torch() -> None:
    code = ("import opentimelineio as otio, sys\n"
            "for name in ('scenesem', 'scenesem_nle'): otio.adapters.from_name(name).module()\n"
            "import scenesem_otio; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False", out.stderr


def otioconvert(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "otioconvert"
    if not exe.exists():
        pytest.skip(f"no otioconvert next to {sys.executable}")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)


def test_otioconvert_cuts_a_film(films: dict, tiny_videomae_dir: Path, tmp_path: Path) -> None:
    video, cuts = films["f23976_tc"]
    out = tmp_path / "film.edl"
    proc = otioconvert("-i", str(video), "-I", "scenesem", "-a", f"model={tiny_videomae_dir}",
                       "-a", "min_scene_s=0", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = probe(video)
    # otioconvert writes with OTIO's own cmx_3600 adapter (no FCM line), not ours
    assert ";" not in out.read_text()
    timeline = read_timeline(out, rate=info.fps)
    scenes = scenes_from_timeline(timeline, info)
    assert scenes[0].start == 0 and scenes[-1].end == info.n_frames
    assert all(a.end == b.start for a, b in pairwise(scenes))
    assert set(cuts_from_timeline(timeline, info)) <= set(cuts)  # scenes start on shots
    assert len(scenes) >= 2  # min_scene_s=0: short scenes are kept
    # The argument does reach the pipeline: scenes of at least 100 s leave the 7.7 s film whole.
    whole = tmp_path / "whole.edl"
    proc = otioconvert("-i", str(video), "-I", "scenesem", "-a", f"model={tiny_videomae_dir}",
                       "-a", "min_scene_s=100", "-o", str(whole))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [(s.start, s.end) for s in scenes_from_timeline(read_timeline(whole, rate=info.fps),
                                                           info)] == [(0, info.n_frames)]


def test_otioconvert_unknown_argument_fails(films: dict, tmp_path: Path) -> None:
    video, _ = films["f25"]
    out = tmp_path / "film.otio"
    proc = otioconvert("-i", str(video), "-I", "scenesem", "-a", "modle=x", "-o", str(out))
    assert proc.returncode != 0 and "modle" in proc.stderr
    assert not out.exists()


def test_nle_adapter_reads_and_writes_frame_exact(tmp_path: Path) -> None:
    """`scenesem_nle` gives OTIO tools our readers/writers: exact FCPXML times (including ones
    like 435/25 s whose float product truncates a frame low) and EDLs with an FCM line."""
    from fractions import Fraction

    from scenesem_otio.adapters.timeline import build_timeline
    from scenesem_otio.core.scenes import Scene, VideoInfo

    fps = Fraction(25)
    starts = [0, 17, 434, 435, 455, 456, 1607, 1905, 3504]
    assert any(int(k / 25 * 25) != k for k in starts)  # the cases float truncation gets wrong
    n = 4000
    media = tmp_path / "film.mp4"
    media.touch()
    info = VideoInfo(path=str(media), fps=fps, n_frames=n, width=640, height=360)
    scenes = [Scene(index=i, start=s, end=e, first_shot=i)
              for i, (s, e) in enumerate(zip(starts, [*starts[1:], n]))]
    timeline = build_timeline(info, scenes)
    for suffix in (".fcpxml", ".edl", ".xml", ".otio"):
        path = tmp_path / f"cut{suffix}"
        otio.adapters.write_to_file(timeline, str(path), adapter_name="scenesem_nle")
        back = otio.adapters.read_from_file(str(path), adapter_name="scenesem_nle", rate="25")
        got = [round(c.source_range.start_time.value_rescaled_to(25))
               for c in back.find_clips()]
        assert [g - got[0] for g in got] == starts, suffix
    assert "FCM: NON-DROP FRAME" in (tmp_path / "cut.edl").read_text()
    with pytest.raises(ValueError, match="rate"):
        otio.adapters.read_from_file(str(tmp_path / "cut.edl"), adapter_name="scenesem_nle",
                                     rate="fast")


def test_otioconvert_writes_through_scenesem_nle(films: dict, tiny_videomae_dir: Path,
                                                 tmp_path: Path) -> None:
    video, cuts = films["f2997_df"]
    out = tmp_path / "film.edl"
    proc = otioconvert("-i", str(video), "-I", "scenesem", "-a", f"model={tiny_videomae_dir}",
                       "-a", "min_scene_s=0", "-o", str(out), "-O", "scenesem_nle")
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = probe(video)
    text = out.read_text()
    assert info.drop_frame and "FCM: DROP FRAME" in text  # the film starts at 01:00:00;00
    events = [line.split() for line in text.splitlines() if line[:3].isdigit()]
    assert events[0][4] == "01:00:00;00", events[0]  # source in of the first scene
    scenes = scenes_from_timeline(read_timeline(out, rate=info.fps), info)
    assert scenes[0].start == 0 and scenes[-1].end == info.n_frames
    assert set(cuts_from_timeline(read_timeline(out, rate=info.fps), info)) <= set(cuts)
