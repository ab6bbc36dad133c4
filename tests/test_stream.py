"""The single decode pass: same shots and scenes as two decodes, every frame decoded once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from scenesem_otio.core.config import (
    CutOptions,
    RuntimeOptions,
    SamplingOptions,
    SegmentOptions,
    ShotOptions,
)
from scenesem_otio.media.probe import probe
from scenesem_otio.media.shots import detect_shots
from scenesem_otio.media.stream import FrameBuffer, single_pass
from scenesem_otio.pipeline import cut


@pytest.mark.parametrize("film", ["test_mp4", "scene_film"])
def test_single_pass_equals_two_passes(film: str, request: pytest.FixtureRequest,
                                       tiny_videomae_dir: Path) -> None:
    value = request.getfixturevalue(film)
    video = value[0] if isinstance(value, tuple) else value
    info = probe(video)
    options = CutOptions(segment=SegmentOptions(min_scene_s=0),
                         runtime=RuntimeOptions(model=str(tiny_videomae_dir), device="cpu",
                                                precision="fp32"), progress=False)
    one = cut(video, options)
    # The reference: PySceneDetect's own decode first, then clips sampled in a second decode.
    # = scenedetect.detect(video, AdaptiveDetector(min_content_val=cut's default))
    detected = detect_shots(video, min_content=ShotOptions().min_content)
    two = cut(video, replace(options, shots=ShotOptions(cuts=tuple(detected))))
    assert one.shots == two.shots
    assert [s.start for s in one.shots[1:]] == detected
    assert [(s.start, s.end) for s in one.scenes] == [(s.start, s.end) for s in two.scenes]
    np.testing.assert_allclose(one.scores, two.scores, atol=1e-5)
    # The whole cut decoded the file once: no frame twice, PySceneDetect fed from that pass.
    assert one.film.frames_decoded == info.n_frames


def test_stream_emits_clips_in_order_and_plans_match(scene_film: tuple[Path, list[int], list[int]]
                                                     ) -> None:
    video, cuts, _ = scene_film
    scan = single_pass(probe(video), ShotOptions(), SamplingOptions(num_frames=8, image_size=64))
    clips = list(scan.clips())
    assert scan.cuts == cuts
    assert [p for p, _ in clips] == scan.plans
    assert all(c.shape == (8, 64, 64, 3) and c.dtype == np.uint8 for _, c in clips)
    assert scan.stats.frames_decoded == probe(video).n_frames
    # Every clip's frames lie inside its own shot.
    for plan, _ in clips:
        shot = scan.shots[plan.shot]
        assert all(shot.start <= f < shot.end for f in plan.frames)


def test_frame_buffer_spills_to_disk_and_reads_back() -> None:
    buf = FrameBuffer(4, max_in_memory=5)
    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(40)]
    for f in frames[:23]:
        buf.append(f)
    assert buf._disk is not None  # spilled
    assert [int(buf.get(i)[0, 0, 0]) for i in range(23)] == list(range(23))
    buf.drop_before(10)
    for f in frames[23:]:
        buf.append(f)
    assert [int(buf.get(i)[0, 0, 0]) for i in range(10, 40)] == list(range(10, 40))
    assert len(buf.mem) <= 6
    buf.drop_before(39)
    assert len(buf) == 1 and buf._disk is None
    buf.close()


def test_frame_buffer_resolves_crops_made_in_a_worker() -> None:
    """Crops handed in as futures read back in order, through a spill, with few unresolved."""
    from concurrent.futures import ThreadPoolExecutor

    buf = FrameBuffer(4, max_in_memory=5, max_pending=2)
    with ThreadPoolExecutor(1) as pool:
        for i in range(23):
            buf.append_later(pool.submit(np.full, (4, 4, 3), i, np.uint8))
            assert len(buf._pending) <= 2
        assert buf._disk is not None  # spilled, futures resolved before writing
        assert [int(buf.get(i)[0, 0, 0]) for i in range(23)] == list(range(23))
        buf.drop_before(10)
        for i in range(23, 30):
            buf.append_later(pool.submit(np.full, (4, 4, 3), i, np.uint8))
        assert [int(buf.get(i)[0, 0, 0]) for i in range(10, 30)] == list(range(10, 30))
    buf.close()


FAULTS = """
import resource, sys
from scenesem_otio.core.config import SamplingOptions, ShotOptions
from scenesem_otio.media import decode
from scenesem_otio.media.probe import probe
from scenesem_otio.media.stream import single_pass
if sys.argv[2] == "glibc-default":
    decode._LARGE_ALLOCATIONS_RECYCLED = True  # as if already done: mallopt is never called
scan = single_pass(probe(sys.argv[1]), ShotOptions(), SamplingOptions(num_frames=4,
                                                                      image_size=64))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in scan.clips():
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_decoded_frames_are_recycled_not_page_faulted_in_again(tmp_path: Path) -> None:
    """glibc maps converted 1080p frames (6 MB) anew and faults their pages in again: 13 M
    faults and 19 s of kernel time in a 10-minute film's decode pass. The pass raises the
    mmap threshold (`recycle_large_allocations`) so the heap serves them again."""
    import subprocess
    import sys
    from fractions import Fraction

    from scenesem_otio.media.encode import VideoWriter

    video = tmp_path / "hd.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(video, Fraction(25), 1920, 1080) as w:
        for i in range(120):
            w.write(np.full((1080, 1920, 3), 60 * (i // 40) + rng.integers(0, 4), np.uint8))

    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", FAULTS, str(video), mode],
                             capture_output=True, text=True, check=True)
        return int(out.stdout.split()[-1])

    # glibc's own dynamic mmap threshold makes the default vary run to run (48 k–99 k faults
    # measured on this film, 43 k once in CI); recycled stays at 13 k–17 k. So: well under the
    # default, and far under one fresh mapping per converted frame (120 × 1519 pages).
    default, recycled = faults("glibc-default"), faults("recycled")
    fresh_mapping_per_frame = 120 * (1920 * 1080 * 3 // 4096)
    assert recycled * 2 < default, (recycled, default)
    assert recycled * 6 < fresh_mapping_per_frame, recycled
