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
    code = ("import opentimelineio as otio, sys; a = otio.adapters.from_name('scenesem'); "
            "a.module(); import scenesem_otio; print('torch' in sys.modules)")
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
    assert len(scenes) >= 2  # min_scene_s=0 reached the pipeline: short scenes are kept


def test_otioconvert_unknown_argument_fails(films: dict, tmp_path: Path) -> None:
    video, _ = films["f25"]
    out = tmp_path / "film.otio"
    proc = otioconvert("-i", str(video), "-I", "scenesem", "-a", "modle=x", "-o", str(out))
    assert proc.returncode != 0 and "modle" in proc.stderr
    assert not out.exists()
