"""The data flow: probe -> shots -> clips -> embed -> segment -> timeline.

`cli.py` and the OTIO adapter plugin both call these functions; they import heavy modules
lazily so that importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def info(video: Path, as_json: bool = False) -> str:
    """What probe found, as a small table or JSON."""
    import json

    from scenesem_otio.media.probe import probe

    facts = probe(video)
    fps = facts.fps
    rows = {
        "path": facts.path,
        "codec": facts.codec,
        "size": f"{facts.width}x{facts.height}",
        "rate": f"{fps.numerator}/{fps.denominator} ({float(fps):.3f} fps)",
        "frames": facts.n_frames,
        "duration_s": round(facts.duration_s, 3),
        "start_timecode": facts.start_timecode or "none",
        "start_frame": facts.start_frame,
        "drop_frame": facts.drop_frame,
        "vfr": facts.vfr,
        "rotation": facts.rotation,
        "audio": facts.has_audio,
    }
    if as_json:
        return json.dumps(rows, indent=2)
    return "\n".join(f"{k:<15} {v}" for k, v in rows.items())


def baseline(video: Path, output: Path, *, detector: str = "adaptive",
             threshold: float | None = None, min_shot: int | None = None,
             progress: bool = True) -> str:
    """PySceneDetect shots -> one clip per shot, through the same timeline writer as `cut`."""
    import time

    from scenesem_otio import __version__
    from scenesem_otio.adapters.formats import check_output_path, write_timeline
    from scenesem_otio.adapters.timeline import build_timeline
    from scenesem_otio.media.probe import probe
    from scenesem_otio.media.shots import detect_shots
    from scenesem_otio.scenes import Scene, shots_from_cuts

    check_output_path(output)
    facts = probe(video)
    start = time.perf_counter()
    cuts = detect_shots(facts.path, detector=detector, threshold=threshold, min_shot=min_shot,
                        progress=progress)
    shots = shots_from_cuts(cuts, facts.n_frames)
    scenes = [Scene(index=i, start=s.start, end=s.end, first_shot=i)
              for i, s in enumerate(shots)]
    timeline = build_timeline(facts, scenes, metadata={
        "tool": "scenesem baseline", "version": __version__, "detector": detector,
        "threshold": threshold, "min_shot": min_shot})
    write_timeline(timeline, output)
    wall = time.perf_counter() - start
    return (f"shots found   {len(shots)}\n"
            f"media         {facts.n_frames} frames, {facts.duration_s:.1f} s\n"
            f"wall time     {wall:.1f} s ({facts.duration_s / max(wall, 1e-9):.1f}x real time)\n"
            f"written       {output}")


def cut(video: Path, output: Path, *, progress: bool = True, **options: Any) -> Any:
    """Scenes -> timeline (model helper owns this function)."""
    raise NotImplementedError


def distance(timeline: Path, output: Path | None = None, *, top: int = 3) -> str:
    """Distance table/heatmap from a timeline with embeddings (model helper owns this)."""
    raise NotImplementedError
