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
from typing import TYPE_CHECKING

from scenesem_otio.core.config import (
    DEFAULT_MIN_SCENE_S,
    PYSCENEDETECT_SHOTS,
    CutOptions,
    SegmentOptions,
    ShotOptions,
)
from scenesem_otio.core.scenes import Scene, Shot, VideoInfo
from scenesem_otio.embed import FilmEmbedding, embed_film

if TYPE_CHECKING:
    import numpy as np
    import opentimelineio as otio

    from scenesem_otio.model.embedder import SceneEmbedder
    from scenesem_otio.segment.count import SceneCount


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


def uses_boundary_model(embedder: SceneEmbedder, segment: SegmentOptions) -> bool:
    return embedder.boundary is not None and segment.boundary_model


def resolve_segment(segment: SegmentOptions, embedder: SceneEmbedder
                    ) -> tuple[SegmentOptions, str]:
    """Fill θ and minimum scene from the checkpoint's calibration; say where θ came from.

    A checkpoint with a boundary model is calibrated for its probabilities; its cosine-rule
    calibration (kept in the record) applies when the boundary model is switched off.
    """
    from scenesem_otio.model.meta import Calibration

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
    boundary = embedder.boundary
    if boundary is None or not uses_boundary_model(embedder, segment):
        return None
    fr = float(film.info.fps)
    return boundary.predict(film.shot_embeddings, [s.start / fr for s in film.shots],
                                     film.info.duration_s, film.shot_colours)


@dataclass
class Decision:
    """What the segment stage made of an embedded film, and how it decided."""

    scenes: list[Scene]
    scores: np.ndarray  # boundary score per shot cut
    segment: SegmentOptions  # as applied: θ, minimum scene and N resolved
    threshold_source: str  # "--threshold", "checkpoint", "80th percentile" or "not used: …"
    scene_count: SceneCount | None = None  # when N was chosen from the film (`--scenes auto`)


def decide(film: FilmEmbedding, segment: SegmentOptions, embedder: SceneEmbedder,
           progress: bool = False) -> Decision:
    """An embedded film -> scenes. Everything `cut` does after the embeddings.

    The count is chosen from the film (`--scenes auto`) when asked, or by default when neither
    a calibrated checkpoint nor `--threshold` sets θ (issue 25): a θ percentile and a fixed
    minimum scene cut too few scenes where they are short and too many where they are long.
    """
    from scenesem_otio.segment.count import AUTO
    from scenesem_otio.segment.decide import segment as run_segment

    seg, threshold_source = resolve_segment(segment, embedder)
    scores = boundary_probabilities(film, embedder, segment)
    auto = segment.n_scenes == AUTO or (segment.n_scenes is None
                                        and threshold_source == "80th percentile")
    if auto:
        seg = replace(seg, n_scenes=AUTO)
        threshold_source = "not used: N chosen from the film (--scenes auto)"
    elif segment.n_scenes is not None:  # the N - 1 likeliest cuts or the grouping: no θ
        threshold_source = f"not used: --scenes {segment.n_scenes}"
    if auto or (seg.n_scenes is not None and scores is None):
        # Scenes by count: the user's minimum scene or none, not the θ rule's default.
        seg = replace(seg, min_scene_s=segment.min_scene_s)
    done = run_segment(film.shots, film.shot_embeddings, float(film.info.fps), seg, scores,
                       progress)
    seg = replace(seg, threshold=done.threshold, min_scene_s=done.min_scene_s)
    if done.scene_count is not None:
        seg = replace(seg, n_scenes=done.scene_count.n)
    return Decision(done.scenes, done.scores, seg, threshold_source, done.scene_count)


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
        from scenesem_otio.report.write import check_report_path

        check_report_path(report)
    start = time.perf_counter()
    rt = options.runtime
    loaded = embedder is None
    if embedder is None:
        from scenesem_otio.model.checkpoint import load_embedder

        embedder = load_embedder(rt.model, device=rt.device, precision=rt.precision,
                                 choice=rt.model_choice)
    if loaded or rt.keep is not None or rt.max_clips_per_shot is not None:
        from scenesem_otio.model.backbone import apply_speed_options

        apply_speed_options(embedder, rt)  # --keep, --max-clips-per-shot (issue 16)
    film = embed_film(video, embedder, options.shots, batch_size=options.runtime.batch_size,
                      progress=options.progress, thumbnails=report is not None)
    decision = decide(film, options.segment, embedder, options.progress)
    scenes, scores, seg = decision.scenes, decision.scores, decision.segment
    threshold_source = decision.threshold_source
    precision = "bf16" if embedder.autocast_dtype is not None else "fp32"
    timeline = _timeline(film, decision, embedder, options, precision)
    if output is not None:
        from scenesem_otio.adapters.formats import write_timeline

        write_timeline(timeline, output, resolve_markers=options.output.resolve_markers)
    if report is not None:
        from scenesem_otio.report.write import write_report

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
    from scenesem_otio.core.scenes import shots_from_cuts
    from scenesem_otio.media.probe import probe
    from scenesem_otio.media.shots import detect_shots

    check_output_path(output)
    info = probe(video)
    start = time.perf_counter()
    cuts = detect_shots(info.path, detector=shots.detector,
                        threshold=shots.detector_threshold, min_shot=shots.min_shot,
                        progress=progress, min_content=shots.min_content,
                        field_order=info.field_order)
    found = shots_from_cuts(cuts, info.n_frames)
    scenes = [Scene(index=i, start=s.start, end=s.end, first_shot=i)
              for i, s in enumerate(found)]
    timeline = build_timeline(info, scenes, metadata={
        "tool": "scenesem baseline", "version": __version__, "detector": shots.detector,
        "threshold": shots.detector_threshold, "min_shot": shots.min_shot,
        "min_content": shots.min_content})
    write_timeline(timeline, output, resolve_markers=resolve_markers)
    return BaselineResult(info, found, output, time.perf_counter() - start)


