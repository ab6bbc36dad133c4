"""The data flow: probe -> shots -> clips -> embed -> segment -> timeline.

`cli.py` and the OTIO adapter plugin both call these functions; they import heavy modules
lazily so that importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
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
             progress: bool = True, resolve_markers: bool = False) -> str:
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
    write_timeline(timeline, output, resolve_markers=resolve_markers)
    wall = time.perf_counter() - start
    return (f"shots found   {len(shots)}\n"
            f"media         {facts.n_frames} frames, {facts.duration_s:.1f} s\n"
            f"wall time     {wall:.1f} s ({facts.duration_s / max(wall, 1e-9):.1f}x real time)\n"
            f"written       {output}")


@dataclass
class CutResult:
    """What `cut` produced; `summary()` is the one-screen table the CLI prints."""

    info: Any
    shots: list
    scenes: list
    scores: Any
    threshold: float
    timeline: Any
    output: Path | None
    wall_s: float
    n_clips: int
    clips_per_s: float
    device: str
    precision: str
    frames_decoded: int = 0

    def summary(self) -> str:
        dists = [s.distance_prev for s in self.scenes if s.distance_prev is not None]
        mean = f"{sum(dists) / len(dists):.3f}" if dists else "n/a"
        rtf = self.info.duration_s / max(self.wall_s, 1e-9)
        rows = [
            ("scenes", f"{len(self.scenes)}"),
            ("shots", f"{len(self.shots)}"),
            ("clips", f"{self.n_clips} ({self.clips_per_s:.1f} clips/s on "
                      f"{self.device} {self.precision})"),
            ("mean Δ", mean),
            ("θ", f"{self.threshold:.3f}"),
            ("media", f"{self.info.n_frames} frames, {self.info.duration_s:.1f} s"),
            ("wall time", f"{self.wall_s:.1f} s ({rtf:.2f}x real time)"),
            ("written", str(self.output) if self.output else "(nothing: no output given)"),
        ]
        return "\n".join(f"{k:<13} {v}" for k, v in rows)


def _shots_for(facts: Any, shots_edit: Path | None, detector: str,
               detector_threshold: float | None, min_shot: int | None,
               progress: bool) -> list[int]:
    """Cut frames from PySceneDetect, or from an existing edit of the same media."""
    from scenesem_otio.adapters.formats import read_timeline
    from scenesem_otio.adapters.timeline import cuts_from_timeline
    from scenesem_otio.media.shots import detect_shots

    if shots_edit is None:
        return detect_shots(facts.path, detector=detector, threshold=detector_threshold,
                            min_shot=min_shot, progress=progress)
    timeline = read_timeline(shots_edit, rate=facts.fps)
    return cuts_from_timeline(timeline, facts, source=str(shots_edit))


def embed_clips(embedder: Any, clips: Any, *, batch_size: int, progress: bool = True,
                total: int | None = None, unit: str = "clips",
                position: Any = None) -> tuple[Any, float]:
    """Embed `(index, uint8 clip)` pairs in batches -> ([N, E] by index, clips/s).

    The iterator (decoding) runs in a background thread feeding a bounded queue, so decode and
    the forward pass overlap (PyAV, OpenCV and torch release the GIL) and memory stays flat.
    The bar counts `unit`s: clips, or decoded frames via `position()` for the single pass.
    """
    import queue
    import threading
    import time

    import numpy as np

    from scenesem_otio.progress import progress_bar

    rows: dict[int, Any] = {}
    q: queue.Queue = queue.Queue(maxsize=max(2 * batch_size, 8))
    done = object()
    failure: list[BaseException] = []
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in clips:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as err:  # handed to the consumer thread
            failure.append(err)
        finally:
            q.put(done)

    worker = threading.Thread(target=produce, daemon=True, name="scenesem-decode")
    worker.start()
    start = time.perf_counter()
    batch_idx: list[int] = []
    batch: list = []
    shown = 0
    try:
        with progress_bar("embedding", total=total, unit=unit, enabled=progress) as advance:
            def flush() -> None:
                nonlocal shown
                if batch:
                    vectors = embedder.embed(np.stack(batch), batch_size=len(batch))
                    for i, v in zip(batch_idx, vectors, strict=True):
                        rows[i] = v
                    now = position() if position is not None else len(rows)
                    advance(now - shown)
                    shown = now
                    batch.clear()
                    batch_idx.clear()

            while True:
                item = q.get()
                if item is done:
                    break
                index, clip = item
                batch_idx.append(index)
                batch.append(clip)
                if len(batch) >= batch_size:
                    flush()
            flush()
            if total is not None and shown < total:
                advance(total - shown)
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(0.05)
    if failure:
        raise failure[0]
    rate = len(rows) / max(time.perf_counter() - start, 1e-9)
    out = np.zeros((len(rows), embedder.dim), np.float32)
    for i, v in rows.items():
        out[i] = v
    return out, rate


def cut(video: Path, output: Path | None, *, progress: bool = True, model: str | None = None,
        shots_edit: Path | None = None, detector: str = "adaptive",
        detector_threshold: float | None = None, min_shot: int | None = None,
        level: str = "scenes", n_scenes: int | None = None, min_scene_s: float | None = None,
        threshold: float | None = None, window: int = 2, device: str = "auto",
        precision: str = "auto", batch_size: int = 8, embeddings: bool = False,
        embedder: Any = None, meta: dict | None = None, single_pass: bool = True,
        resolve_markers: bool = False) -> CutResult:
    """probe -> shots -> clips -> embed -> scenes -> timeline (written when `output` is given).

    `embedder`/`meta` let callers (training's calibration, the OTIO plugin) reuse a model
    already in memory. `single_pass=False` runs shot detection and clip sampling as two
    decodes (the reference the single pass is tested against).
    """
    import time

    from scenesem_otio import __version__
    from scenesem_otio.adapters.formats import check_output_path, write_timeline
    from scenesem_otio.adapters.timeline import build_timeline
    from scenesem_otio.media.decode import DecodeStats
    from scenesem_otio.media.probe import probe
    from scenesem_otio.media.sampling import iter_clips, plan_clips
    from scenesem_otio.media.stream import single_pass as make_single_pass
    from scenesem_otio.model.embedder import load_embedder
    from scenesem_otio.scenes import shots_from_cuts
    from scenesem_otio.segment import segment, shot_embeddings

    if output is not None:
        check_output_path(output)
    start = time.perf_counter()
    facts = probe(video)
    if embedder is None:
        embedder, meta = load_embedder(model, device=device, precision=precision)
    meta = meta or {}
    sampling = meta.get("sampling") or {}
    num_frames = int(sampling.get("num_frames", embedder.backbone.num_frames))
    image_size = int(sampling.get("image_size", embedder.backbone.image_size))
    every = float(sampling.get("clip_every_s", 4.0))
    span = float(sampling.get("clip_span_s", 2.0))
    stats = DecodeStats()
    if shots_edit is None and single_pass:
        # One decode feeds PySceneDetect and the clip sampler (media/stream.py).
        scan = make_single_pass(facts, detector, detector_threshold, min_shot,
                                num_frames=num_frames, image_size=image_size,
                                clip_every_s=every, clip_span_s=span, stats=stats)
        numbered = ((i, clip) for i, (_, clip) in enumerate(scan.clips()))
        clip_emb, rate = embed_clips(embedder, numbered, batch_size=batch_size,
                                     progress=progress, total=facts.n_frames, unit="frames",
                                     position=lambda: stats.frames_decoded)
        shots, plans = scan.shots, scan.plans
    else:
        cuts = _shots_for(facts, shots_edit, detector, detector_threshold, min_shot, progress)
        shots = shots_from_cuts(cuts, facts.n_frames)
        plans = plan_clips(shots, facts.fps, num_frames, every, span)
        clip_emb, rate = embed_clips(
            embedder, iter_clips(facts.path, [p.frames for p in plans], size=image_size,
                                 stats=stats),
            batch_size=batch_size, progress=progress, total=len(plans))
    shot_emb = shot_embeddings(clip_emb, [p.shot for p in plans], len(shots))
    if min_scene_s is None:
        min_scene_s = float(meta.get("min_scene_s") or 8.0)
    if threshold is None and meta.get("threshold") is not None:
        threshold = float(meta["threshold"])
    scenes, scores, theta = segment(shots, shot_emb, float(facts.fps), window=window,
                                    threshold=threshold, min_scene_s=min_scene_s,
                                    n_scenes=n_scenes)
    dtype = embedder.autocast_dtype
    precision_used = "bf16" if dtype is not None else "fp32"
    timeline = build_timeline(facts, scenes, shots=shots, level=level, embeddings=embeddings,
                              metadata={
        "tool": "scenesem cut", "version": __version__,
        "model": str(meta.get("backbone") or model or "checkpoint"),
        "head": meta.get("head"), "threshold": theta,
        "threshold_source": ("--threshold" if threshold is not None and
                             threshold != meta.get("threshold") else
                             "checkpoint" if meta.get("threshold") is not None else
                             "80th percentile"),
        "window": window, "min_scene_s": min_scene_s, "n_scenes_requested": n_scenes,
        "shots_from": str(shots_edit) if shots_edit else f"pyscenedetect {detector}",
        "sampling": {"num_frames": num_frames, "image_size": image_size,
                     "clip_every_s": sampling.get("clip_every_s", 4.0),
                     "clip_span_s": sampling.get("clip_span_s", 2.0)},
        "precision": precision_used,
        "shot_cuts": [s.start for s in shots[1:]],
        "boundary_scores": [float(x) for x in scores],
    })
    if output is not None:
        write_timeline(timeline, output, resolve_markers=resolve_markers)
    return CutResult(info=facts, shots=shots, scenes=scenes, scores=scores, threshold=theta,
                     timeline=timeline, output=output, wall_s=time.perf_counter() - start,
                     n_clips=len(plans), clips_per_s=rate, device=str(embedder.device),
                     precision=precision_used, frames_decoded=stats.frames_decoded)


def distance(timeline: Path, output: Path | None = None, *, top: int = 3) -> str:
    """Distance table (and heatmap PNG) from a timeline written with `cut --embeddings`."""
    import numpy as np

    from scenesem_otio.adapters.formats import read_timeline
    from scenesem_otio.adapters.timeline import scenes_from_timeline
    from scenesem_otio.errors import TimelineError
    from scenesem_otio.segment import distance_matrix, nearest_earlier

    if output is not None:
        from scenesem_otio.fileio import check_writable

        check_writable(output, (".png", ".pdf", ".svg"))
    tl = read_timeline(timeline)
    scenes = scenes_from_timeline(tl, source=str(timeline))
    if not scenes:
        raise TimelineError(f"{timeline}: no scenes in it")
    missing = [s.index for s in scenes if not s.embedding]
    if missing:
        raise TimelineError(f"{timeline}: scenes carry no embeddings; write it with "
                            f"`scenesem cut … --embeddings`")
    emb = np.asarray([s.embedding for s in scenes], dtype=np.float64)
    dist = distance_matrix(emb)
    lines = [f"{'scene':<7}{'start':>9}  {'Δprev':>6}  nearest earlier"]
    for i, s in enumerate(scenes):
        prev = f"{dist[i, i - 1]:.3f}" if i else "   -  "
        near = ", ".join(f"S{j + 1:03d} {d:.3f}" for j, d in nearest_earlier(dist, i, top))
        lines.append(f"S{i + 1:03d}  {s.start:>9}  {prev:>6}  {near or '-'}")
    if output is not None:
        _heatmap(dist, [s.title or f"S{i + 1:03d}" for i, s in enumerate(scenes)], output,
                 title=tl.name or Path(timeline).stem)
        lines.append(f"heatmap written to {output}")
    return "\n".join(lines)


def _heatmap(dist: Any, labels: list[str], output: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scenesem_otio.fileio import atomic_path

    n = len(labels)
    size = min(4 + 0.25 * n, 30)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    im = ax.imshow(dist, cmap="magma_r", vmin=0.0, vmax=max(float(dist.max()), 1e-6))
    step = max(1, n // 40)
    ax.set_xticks(range(0, n, step), labels[::step], rotation=90, fontsize=7)
    ax.set_yticks(range(0, n, step), labels[::step], fontsize=7)
    ax.set_title(f"{title}: semantic distance between scenes")
    fig.colorbar(im, ax=ax, label="D = (1 − cos) / 2")
    fig.tight_layout()
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format=output.suffix.lstrip(".").lower() or "png", dpi=120)
    plt.close(fig)
