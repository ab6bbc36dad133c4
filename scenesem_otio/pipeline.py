"""The data flow: probe -> shots -> clips -> embed -> segment -> timeline (SPEC §2).

`cli.py`, the OTIO adapter plugin and training's calibration all call these functions. One path
through `cut`: a shot source (cuts detected in the single decode pass, or known from an edit)
feeds clips to the model; the rest does not care where the shots came from. Heavy modules are
imported inside functions so that importing this module stays cheap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenesem_otio.config import (
    DEFAULT_MIN_SCENE_S,
    PYSCENEDETECT_SHOTS,
    CutOptions,
    SamplingOptions,
    SegmentOptions,
    ShotOptions,
)
from scenesem_otio.scenes import Scene, Shot, VideoInfo

if TYPE_CHECKING:
    import numpy as np
    import opentimelineio as otio

    from scenesem_otio.media.sampling import KnownShots
    from scenesem_otio.media.stream import SinglePass
    from scenesem_otio.model.embedder import SceneEmbedder
    from scenesem_otio.scene_count import SceneCount


@dataclass
class FilmEmbedding:
    """A film's shots and their embeddings: what segmentation (and calibration) needs."""

    info: VideoInfo
    shots: list[Shot]
    shot_embeddings: np.ndarray  # [n_shots, E], unit rows
    n_clips: int
    clips_per_s: float
    frames_decoded: int
    thumbnails: dict[int, Any] | None = None  # shot start -> ShotThumbs, for the report
    shot_colours: np.ndarray | None = None  # [n_shots, 64] colour histograms (media.colour)


@dataclass
class CutResult:
    """What `cut` produced."""

    film: FilmEmbedding
    scenes: list[Scene]
    scores: np.ndarray  # boundary score per shot cut
    segment: SegmentOptions  # as applied: θ and minimum scene resolved
    threshold_source: str  # "--threshold", "checkpoint" or "not used: N chosen …"
    timeline: otio.schema.Timeline
    output: Path | None
    report: Path | None
    wall_s: float
    device: str
    precision: str  # "fp32" or "bf16"
    scene_count: SceneCount | None = None  # how N was chosen, with --scenes auto

    @property
    def info(self) -> VideoInfo:
        return self.film.info

    @property
    def shots(self) -> list[Shot]:
        return self.film.shots

    @property
    def threshold(self) -> float:
        return float(self.segment.threshold or 0.0)


@dataclass
class BaselineResult:
    """PySceneDetect's shots written as a timeline."""

    info: VideoInfo
    shots: list[Shot]
    output: Path
    wall_s: float


def shot_source(info: VideoInfo, shots: ShotOptions, sampling: SamplingOptions,
                thumbnails: bool = False) -> SinglePass | KnownShots:
    """Detected in the single decode pass, or known up front (an edit, or given cut frames).

    `thumbnails`: the source also keeps each shot's first/middle/last frame (`cut --report`).
    """
    from scenesem_otio.media.sampling import KnownShots
    from scenesem_otio.media.stream import single_pass
    from scenesem_otio.scenes import shots_from_cuts

    if shots.edit is not None:
        from scenesem_otio.adapters.formats import read_timeline
        from scenesem_otio.adapters.timeline import cuts_from_timeline

        timeline = read_timeline(shots.edit, rate=info.fps)
        cuts = cuts_from_timeline(timeline, info, source=str(shots.edit))
        return KnownShots(info, shots_from_cuts(cuts, info.n_frames), sampling,
                          thumbnails=thumbnails)
    if shots.cuts is not None:
        return KnownShots(info, shots_from_cuts(list(shots.cuts), info.n_frames), sampling,
                          thumbnails=thumbnails)
    return single_pass(info, shots, sampling, thumbnails=thumbnails)


def embed_clips(embedder: SceneEmbedder, clips: Any, *, batch_size: int,
                advance: Any = None, position: Any = None
                ) -> tuple[np.ndarray, np.ndarray, float]:
    """Embed `(index, uint8 clip)` pairs in batches -> ([N, E] in index order, [N, C] colour
    histograms of the same clips, clips/s).

    Decoding runs ahead in a thread (`prefetch`); `advance(position() - shown)` moves the
    progress bar after each batch.
    """
    import numpy as np

    from scenesem_otio.media.colour import COLOUR_DIM, colour_histogram
    from scenesem_otio.prefetch import prefetch

    rows: dict[int, np.ndarray] = {}
    colours: dict[int, np.ndarray] = {}
    start = time.perf_counter()
    shown = 0
    batch: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        nonlocal shown
        vectors = embedder.embed(np.stack([c for _, c in batch]), batch_size=len(batch))
        rows.update(zip((i for i, _ in batch), vectors))
        colours.update((i, colour_histogram(c)) for i, c in batch)
        batch.clear()
        if advance is not None:
            now = position() if position is not None else len(rows)
            advance(now - shown)
            shown = now

    for item in prefetch(clips, depth=max(2 * batch_size, 8)):
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    rate = len(rows) / max(time.perf_counter() - start, 1e-9)
    out = np.zeros((len(rows), embedder.dim), np.float32)
    hist = np.zeros((len(rows), COLOUR_DIM), np.float32)
    for i, v in rows.items():
        out[i] = v
        hist[i] = colours[i]
    return out, hist, rate


def embed_film(video: str | Path, embedder: SceneEmbedder, shots: ShotOptions = ShotOptions(),
               *, batch_size: int = 8, progress: bool = True,
               thumbnails: bool = False) -> FilmEmbedding:
    """probe -> shots -> clips -> shot embeddings, in one decode pass through the file."""
    from scenesem_otio.media.probe import probe
    from scenesem_otio.progress import progress_bar
    from scenesem_otio.segment import shot_embeddings

    info = probe(video)
    backbone = embedder.backbone
    sampling = embedder.meta.sampling.resolved(backbone.num_frames, backbone.image_size)
    source = shot_source(info, shots, sampling, thumbnails)
    numbered = ((i, clip) for i, (_, clip) in enumerate(source.clips()))
    with progress_bar("embedding", total=info.n_frames, unit="frames",
                      enabled=progress) as advance:
        clip_emb, clip_colours, rate = embed_clips(
            embedder, numbered, batch_size=batch_size, advance=advance,
            position=lambda: source.stats.frames_decoded)
    owners = [p.shot for p in source.plans]
    emb = shot_embeddings(clip_emb, owners, len(source.shots))
    colours = shot_embeddings(clip_colours, owners, len(source.shots))  # mean, normalised
    thumbs = source.thumbs.finish(info.n_frames) if source.thumbs is not None else None
    return FilmEmbedding(info, source.shots, emb, len(source.plans), rate,
                         source.stats.frames_decoded, thumbs, colours)


def uses_boundary_model(embedder: SceneEmbedder, segment: SegmentOptions) -> bool:
    return embedder.boundary is not None and segment.boundary_model


def resolve_segment(segment: SegmentOptions, embedder: SceneEmbedder
                    ) -> tuple[SegmentOptions, str]:
    """Fill θ and minimum scene from the checkpoint's calibration; say where θ came from.

    A checkpoint with a boundary model is calibrated for its probabilities; its cosine-rule
    calibration (kept in the record) applies when the boundary model is switched off.
    """
    from scenesem_otio.model.checkpoint import Calibration

    calib = embedder.meta.calibration
    cosine = embedder.meta.record.get("cosine_calibration")
    if embedder.boundary is not None and not uses_boundary_model(embedder, segment) and cosine:
        calib = Calibration(**cosine)
    min_scene = segment.min_scene_s
    if min_scene is None:
        min_scene = DEFAULT_MIN_SCENE_S if calib.min_scene_s is None else calib.min_scene_s
    if segment.threshold is not None:
        source = "checkpoint" if segment.threshold == calib.threshold else "--threshold"
        return replace(segment, min_scene_s=min_scene), source
    if calib.threshold is not None:
        return replace(segment, threshold=calib.threshold, min_scene_s=min_scene), "checkpoint"
    return replace(segment, min_scene_s=min_scene), "80th percentile"


def boundary_probabilities(film: FilmEmbedding, embedder: SceneEmbedder,
                           segment: SegmentOptions) -> np.ndarray | None:
    """The checkpoint's boundary model on this film's shots; None: use the cosine rule."""
    if not uses_boundary_model(embedder, segment):
        return None
    fr = float(film.info.fps)
    return embedder.boundary.predict(film.shot_embeddings, [s.start / fr for s in film.shots],
                                     film.info.duration_s, film.shot_colours)


@dataclass
class Decision:
    """What the segment stage made of an embedded film, and how it decided."""

    scenes: list[Scene]
    scores: np.ndarray  # boundary score per shot cut
    segment: SegmentOptions  # as applied: θ, minimum scene and N resolved
    threshold_source: str  # "--threshold", "checkpoint", "80th percentile" or "not used: …"
    scene_count: SceneCount | None = None  # when N was chosen from the film (`--scenes auto`)


def decide(film: FilmEmbedding, segment: SegmentOptions, embedder: SceneEmbedder) -> Decision:
    """An embedded film -> scenes. Everything `cut` does after the embeddings.

    The count is chosen from the film (`--scenes auto`) when asked, or by default when neither
    a calibrated checkpoint nor `--threshold` sets θ (issue 25): a θ percentile and a fixed
    minimum scene cut too few scenes where they are short and too many where they are long.
    """
    from scenesem_otio.scene_count import AUTO, choose_scene_count
    from scenesem_otio.segment import boundary_scores, build_scenes, default_threshold
    from scenesem_otio.segment import segment as run_segment

    seg, threshold_source = resolve_segment(segment, embedder)
    scores = boundary_probabilities(film, embedder, segment)
    count = None
    if segment.n_scenes == AUTO or (segment.n_scenes is None and threshold_source
                                    == "80th percentile"):
        fr = float(film.info.fps)
        count = choose_scene_count(film.shot_embeddings, [s.start / fr for s in film.shots],
                                   film.info.duration_s, segment.min_scene_s)
        seg = replace(seg, n_scenes=count.n, min_scene_s=segment.min_scene_s or 0.0)
        threshold_source = "not used: N chosen from the film (--scenes auto)"
        if scores is None:  # the grouping the count was chosen with (under --min-scene)
            cosine = boundary_scores(film.shot_embeddings, seg.window)
            return Decision(build_scenes(film.shots, film.shot_embeddings, count.starts, cosine),
                            cosine, replace(seg, threshold=default_threshold(cosine)),
                            threshold_source, count)
    scenes, scores, theta = run_segment(film.shots, film.shot_embeddings, float(film.info.fps),
                                        seg, scores)
    return Decision(scenes, scores, replace(seg, threshold=theta), threshold_source, count)


def scenes_of(film: FilmEmbedding, segment: SegmentOptions, embedder: SceneEmbedder
              ) -> tuple[list[Scene], np.ndarray, SegmentOptions, str]:
    """`decide` as a tuple (scenes, boundary scores, settings applied, where θ came from);
    the demo decodes one embedding pass several ways with it."""
    d = decide(film, segment, embedder)
    return d.scenes, d.scores, d.segment, d.threshold_source


def cut(video: str | Path, options: CutOptions = CutOptions(), *,
        embedder: SceneEmbedder | None = None, output: Path | None = None) -> CutResult:
    """probe -> shots -> clips -> embed -> scenes -> timeline (written when `output` is given).

    `embedder` lets callers (calibration, the OTIO plugin, the demo) reuse a model in memory.
    """
    if output is not None:
        from scenesem_otio.adapters.formats import check_output_path

        check_output_path(output)
    report = options.output.report
    if report is not None:
        from scenesem_otio.report import check_report_path

        check_report_path(report)
    start = time.perf_counter()
    rt = options.runtime
    loaded = embedder is None
    if embedder is None:
        from scenesem_otio.model.embedder import load_embedder

        embedder = load_embedder(rt.model, device=rt.device, precision=rt.precision,
                                 choice=rt.model_choice)
    if loaded or rt.keep is not None or rt.max_clips_per_shot is not None:
        from scenesem_otio.model.backbone import apply_speed_options

        apply_speed_options(embedder, rt)  # --keep, --max-clips-per-shot (issue 16)
    film = embed_film(video, embedder, options.shots, batch_size=options.runtime.batch_size,
                      progress=options.progress, thumbnails=report is not None)
    decision = decide(film, options.segment, embedder)
    scenes, scores, seg = decision.scenes, decision.scores, decision.segment
    threshold_source = decision.threshold_source
    precision = "bf16" if embedder.autocast_dtype is not None else "fp32"
    timeline = _timeline(film, decision, embedder, options, precision)
    if output is not None:
        from scenesem_otio.adapters.formats import write_timeline

        write_timeline(timeline, output, resolve_markers=options.output.resolve_markers)
    if report is not None:
        from scenesem_otio.report import write_report

        write_report(timeline, report, thumbnails=film.thumbnails, facts={
            "cut wall time": f"{time.perf_counter() - start:.1f} s",
            "device": f"{embedder.device} {precision}",
            "clips": f"{film.n_clips} ({film.clips_per_s:.1f} clips/s)"})
    return CutResult(film=film, scenes=scenes, scores=scores, segment=seg,
                     threshold_source=threshold_source, scene_count=decision.scene_count,
                     timeline=timeline, output=output,
                     report=report, wall_s=time.perf_counter() - start, device=str(embedder.device),
                     precision=precision)


def _timeline(film: FilmEmbedding, decision: Decision, embedder: SceneEmbedder,
              options: CutOptions, precision: str) -> otio.schema.Timeline:
    """The scene timeline with the run's facts in `metadata["scenesem"]`."""
    from dataclasses import asdict

    from scenesem_otio import __version__
    from scenesem_otio.adapters.timeline import build_timeline

    scenes, scores, seg = decision.scenes, decision.scores, decision.segment
    threshold_source = decision.threshold_source
    count = decision.scene_count

    meta = embedder.meta
    backbone = embedder.backbone
    return build_timeline(
        film.info, scenes, shots=film.shots, level=options.output.level,
        embeddings=options.output.embeddings, shot_embeddings=film.shot_embeddings,
        metadata={
            "tool": "scenesem cut", "version": __version__,
            "model": str(meta.backbone or options.runtime.model or "checkpoint"),
            "model_choice": embedder.choice or None,
            "checkpoint": str(options.runtime.model) if meta.head else None,
            "head": list(meta.head) if meta.head else None, "threshold": seg.threshold,
            "threshold_source": threshold_source, "window": seg.window,
            "boundary_scores_from": ("boundary model"
                                     if uses_boundary_model(embedder, options.segment)
                                     else f"cosine rule, window {seg.window}"),
            "min_scene_s": seg.min_scene_s, "n_scenes_requested": (
                "auto" if count is not None else options.segment.n_scenes),
            # how N was chosen: "--scenes N", the checkpoint's calibration (θ) or the film
            # itself, with the criterion over every N tried (issue 25)
            "scene_count_from": ("--scenes N" if isinstance(options.segment.n_scenes, int)
                                 else "the film (--scenes auto)" if count is not None
                                 else f"θ ({threshold_source})"),
            "scene_count": count.as_meta() if count is not None else None,
            "shots_from": options.shots.describe(),
            "sampling": asdict(meta.sampling.resolved(backbone.num_frames,
                                                      backbone.image_size)),
            "precision": precision, "keep": meta.keep,
            "shot_cuts": [s.start for s in film.shots[1:]],
            "boundary_scores": [float(x) for x in scores],
        })


def baseline(video: str | Path, output: Path, shots: ShotOptions = PYSCENEDETECT_SHOTS, *,
             progress: bool = True, resolve_markers: bool = False) -> BaselineResult:
    """PySceneDetect shots -> one clip per shot, through the same timeline writer as `cut`."""
    from scenesem_otio import __version__
    from scenesem_otio.adapters.formats import check_output_path, write_timeline
    from scenesem_otio.adapters.timeline import build_timeline
    from scenesem_otio.media.probe import probe
    from scenesem_otio.media.shots import detect_shots
    from scenesem_otio.scenes import shots_from_cuts

    check_output_path(output)
    info = probe(video)
    start = time.perf_counter()
    cuts = detect_shots(info.path, detector=shots.detector,
                        threshold=shots.detector_threshold, min_shot=shots.min_shot,
                        progress=progress, min_content=shots.min_content)
    found = shots_from_cuts(cuts, info.n_frames)
    scenes = [Scene(index=i, start=s.start, end=s.end, first_shot=i)
              for i, s in enumerate(found)]
    timeline = build_timeline(info, scenes, metadata={
        "tool": "scenesem baseline", "version": __version__, "detector": shots.detector,
        "threshold": shots.detector_threshold, "min_shot": shots.min_shot,
        "min_content": shots.min_content})
    write_timeline(timeline, output, resolve_markers=resolve_markers)
    return BaselineResult(info, found, output, time.perf_counter() - start)


@dataclass
class SceneDistances:
    """Scenes of a timeline written with `--embeddings` and their distance matrix."""

    name: str
    scenes: list[Scene]
    matrix: np.ndarray  # D_ij = (1 − cos) / 2

    @property
    def labels(self) -> list[str]:
        return [s.title or f"S{i + 1:03d}" for i, s in enumerate(self.scenes)]


def distances(timeline: Path) -> SceneDistances:
    """Distance matrix between the scenes of a timeline written with `cut --embeddings`."""
    import numpy as np

    from scenesem_otio.adapters.formats import read_timeline
    from scenesem_otio.adapters.timeline import scenes_from_timeline
    from scenesem_otio.errors import TimelineError
    from scenesem_otio.segment import distance_matrix

    tl = read_timeline(timeline)
    scenes = scenes_from_timeline(tl, source=str(timeline))
    if not scenes:
        raise TimelineError(f"{timeline}: no scenes in it")
    if any(not s.embedding for s in scenes):
        raise TimelineError(f"{timeline}: scenes carry no embeddings; write it with "
                            f"`scenesem cut … --embeddings`")
    emb = np.asarray([s.embedding for s in scenes], dtype=np.float64)
    return SceneDistances(tl.name or Path(timeline).stem, scenes, distance_matrix(emb))


def write_heatmap(dist: SceneDistances, output: Path) -> None:
    """The distance matrix as an image (.png/.pdf/.svg), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scenesem_otio.fileio import atomic_path, check_writable

    check_writable(output, (".png", ".pdf", ".svg"))
    labels = dist.labels
    n = len(labels)
    size = min(4 + 0.25 * n, 30)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    im = ax.imshow(dist.matrix, cmap="magma_r", vmin=0.0,
                   vmax=max(float(dist.matrix.max()), 1e-6))
    step = max(1, n // 40)
    ax.set_xticks(range(0, n, step), labels[::step], rotation=90, fontsize=7)
    ax.set_yticks(range(0, n, step), labels[::step], fontsize=7)
    ax.set_title(f"{dist.name}: semantic distance between scenes")
    fig.colorbar(im, ax=ax, label="D = (1 − cos) / 2")
    fig.tight_layout()
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format=output.suffix.lstrip(".").lower() or "png", dpi=120)
    plt.close(fig)
