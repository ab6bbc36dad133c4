"""A real client: MLT's `melt` renders our .kdenlive timeline; each scene's frames land where the
source has them. Skipped where melt is not installed (`apt-get install melt`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from scenesem_otio.adapters.formats import write_timeline
from scenesem_otio.media.decode import iter_frames
from scenesem_otio.pipeline import baseline

pytestmark = pytest.mark.skipif(shutil.which("melt") is None, reason="melt is not installed")


def thumbs(path: Path) -> np.ndarray:
    """Every frame as a 32x18 grey thumbnail (robust to the render's scaling and codec)."""
    import cv2

    out = []
    for _, frame in iter_frames(path):
        grey = cv2.cvtColor(frame.to_ndarray(format="bgr24"), cv2.COLOR_BGR2GRAY)
        out.append(cv2.resize(grey, (32, 18), interpolation=cv2.INTER_AREA).astype(np.float32))
    return np.stack(out)


def test_melt_renders_scenes_where_the_source_has_them(
        scene_film: tuple[Path, list[int], list[int]], tmp_path: Path) -> None:
    video, cuts, _ = scene_film
    baseline(video, tmp_path / "shots.otio", progress=False)
    timeline = otio.adapters.read_from_file(str(tmp_path / "shots.otio"))
    track = timeline.tracks[0]
    assert [c.source_range.start_time.to_frames() for c in track.find_clips()][1:] == cuts
    removed = track[2]  # drop a shot so every later clip moves on the record side
    del track[2]
    write_timeline(timeline, tmp_path / "edit.kdenlive")
    n_out = sum(c.source_range.duration.to_frames() for c in track.find_clips())
    render = tmp_path / "render.mp4"
    proc = subprocess.run(["melt", str(tmp_path / "edit.kdenlive"), f"out={n_out - 1}",
                           "-consumer", f"avformat:{render}", "vcodec=libx264", "crf=12",
                           "an=1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    src, out = thumbs(video), thumbs(render)
    assert len(out) == n_out

    # Where each record frame should come from.
    expected = []
    for clip in track.find_clips():
        start = clip.source_range.start_time.to_frames()
        expected += range(start, start + clip.source_range.duration.to_frames())
    record = 0
    checked = 0
    for clip in track.find_clips():
        n = clip.source_range.duration.to_frames()
        for r in (record, record + n - 1):  # first and last frame of each scene
            window = range(max(0, expected[r] - 3), min(len(src), expected[r] + 4))
            err = [np.abs(out[r] - src[s]).mean() for s in window]
            assert window[int(np.argmin(err))] == expected[r], (r, expected[r])
            checked += 1
        record += n
    assert checked == 2 * len(track)
    assert removed.source_range.start_time.to_frames() not in {expected[0]}
