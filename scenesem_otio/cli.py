"""`scenesem` command line: thin click commands over pipeline, trainer and evaluate.

Heavy imports (torch, transformers, av, scenedetect) happen inside commands so that `--help`
is instant. Every `ScenesemError` becomes one `error: …` line and exit status 1.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from scenesem_otio import __version__
from scenesem_otio.core.config import (
    DEFAULT_KEEP,
    DEFAULT_MAX_CLIPS_PER_SHOT,
    DEFAULT_MIN_SCENE_S,
    DEFAULT_MODEL,
    DEVICES,
    OUTPUT_LEVELS,
    PRECISIONS,
    SCENE_MIN_CONTENT,
    SHOT_DETECTORS,
    RuntimeOptions,
    SegmentOptions,
)
from scenesem_otio.core.errors import ScenesemError
from scenesem_otio.core.progress import quiet_library_bars
from scenesem_otio.train.config import BOUNDARY_TRAINING, DEFAULT_FOLDS, TrainConfig
from scenesem_otio.train.pseudo import DEFAULT_METHOD as PSEUDO_METHOD
from scenesem_otio.train.pseudo import METHODS as PSEUDO_METHODS
from scenesem_otio.train.pseudo import MIN_VOTES as PSEUDO_MIN_VOTES
from scenesem_otio.train.pseudo import WINDOW as PSEUDO_WINDOW


def _friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user mistakes into one clear line and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ScenesemError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except OSError as err:  # disk full, permissions on the output side
            click.echo(f"error: {os_error_line(err)}", err=True)
            sys.exit(1)

    return wrapper


def os_error_line(err: OSError) -> str:
    """`PATH: problem`, like every other error line; a file where a folder must go said so."""
    name = getattr(err, "filename", None)
    if not name:
        return str(err.strerror or err)
    if isinstance(err, (FileExistsError, NotADirectoryError)) and Path(name).is_file():
        return f"{name}: is a file, not a folder"
    return f"{name}: {err.strerror or err}"


resolve_markers_option = click.option(
    "--resolve-markers", is_flag=True,
    help="EDL only: write markers in DaVinci Resolve's marker-EDL comment form.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scenesem")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("--progress", "progress_style", type=click.Choice(["bar", "json"]), default="bar",
              show_default=True, help="Progress as bars, or as JSON lines on stderr for "
                                      "programs (the Blender add-on).")
def main(verbose: int, progress_style: str) -> None:
    """Cut films into scenes and measure the semantic distance between them."""
    from scenesem_otio.core.progress import set_progress_style

    set_progress_style(progress_style)
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)



shot_detector_option = click.option(
    "--shot-detector", "--detector", "detector", type=click.Choice(SHOT_DETECTORS),
    default="adaptive", show_default=True,
    help="Shot cut detector: PySceneDetect's, or transnetv2 (a network that also finds "
         "dissolves and fades; pip install 'scenesem-otio[transnet]').",
)
class SceneCountParam(click.ParamType):
    """`--scenes auto` or a positive count."""

    name = "auto|N"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | str:
        if isinstance(value, int) or str(value).strip().lower() == "auto":
            return value if isinstance(value, int) else "auto"
        try:
            n = int(str(value))
        except ValueError:
            n = 0
        if n < 1:
            self.fail(f"{value!r}: `auto` or a whole number ≥ 1", param, ctx)
        return n


threshold_option = click.option(
    "--shot-threshold", "detector_threshold", type=click.FloatRange(min=0), default=None,
    help="Detector threshold (PySceneDetect's default per detector when omitted; "
         "transnetv2: transition probability, default 0.5).",
)
min_shot_option = click.option(
    "--min-shot", "min_shot", type=click.IntRange(min=1), default=None,
    help="Minimum shot length in frames (PySceneDetect's min_scene_len; default 15; "
         "transnetv2: none).",
)
min_content_option = click.option(
    "--min-content", "min_content", type=click.FloatRange(min=0), default=None,
    help="Adaptive detector's floor on a cut's content change (min_content_val) "
         f"[default: cut {SCENE_MIN_CONTENT:g}, baseline PySceneDetect's 15].",
)


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_friendly_errors
def info(video: Path, as_json: bool) -> None:
    """Print what probing VIDEO finds: exact rate, frames, start timecode, drop frame, VFR,
    size, pixel and display aspect, field order, audio streams."""
    from scenesem_otio.media.probe import probe

    facts = probe(video)
    fps = facts.fps
    rows = {
        "path": facts.path, "codec": facts.codec, "size": f"{facts.width}x{facts.height}",
        "rate": f"{fps.numerator}/{fps.denominator} ({float(fps):.3f} fps)",
        "frames": facts.n_frames, "duration_s": round(facts.duration_s, 3),
        "start_timecode": facts.start_timecode or "none", "start_frame": facts.start_frame,
        "drop_frame": facts.drop_frame, "vfr": facts.vfr, "rotation": facts.rotation,
        "pixel_aspect": f"{facts.sample_aspect.numerator}/{facts.sample_aspect.denominator}",
        "display_aspect": f"{facts.display_aspect.numerator}/{facts.display_aspect.denominator}",
        "field_order": facts.field_order,
        "audio": facts.has_audio,
        "audio_streams": "; ".join(f"#{a.index} {a.channels} ch {a.sample_rate} Hz {a.codec}"
                                   for a in facts.audio) or "none",
    }
    click.echo(json.dumps(rows, indent=2) if as_json else _table(rows, 15))


def _table(rows: dict[str, Any], width: int = 13) -> str:
    return "\n".join(f"{k:<{width}} {v}" for k, v in rows.items())


def _shot_options(detector: str, detector_threshold: float | None, min_shot: int | None,
                  min_content: float | None, edit: Path | None = None,
                  default_min_content: float | None = SCENE_MIN_CONTENT) -> Any:
    from scenesem_otio.core.config import ShotOptions

    if min_content is not None and detector != "adaptive":
        raise click.UsageError("--min-content applies to --shot-detector adaptive only")
    return ShotOptions(detector=detector, detector_threshold=detector_threshold,
                       min_shot=min_shot, edit=edit,
                       min_content=default_min_content if min_content is None else min_content)


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Timeline to write; format from the extension.")
@shot_detector_option
@threshold_option
@min_shot_option
@min_content_option
@resolve_markers_option
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@_friendly_errors
def baseline(video: Path, output: Path, detector: str, detector_threshold: float | None,
             min_shot: int | None, min_content: float | None, resolve_markers: bool,
             no_progress: bool) -> None:
    """PySceneDetect shots of VIDEO, one clip per shot, through the same timeline writer."""
    from scenesem_otio.pipeline import baseline as run_baseline

    shots = _shot_options(detector, detector_threshold, min_shot, min_content,
                          default_min_content=None)  # PySceneDetect's own defaults
    result = run_baseline(video, output, shots, progress=not no_progress,
                          resolve_markers=resolve_markers)
    info = result.info
    click.echo(_table({
        "shots found": len(result.shots),
        "media": f"{info.n_frames} frames, {info.duration_s:.1f} s",
        "wall time": f"{result.wall_s:.1f} s "
                     f"({info.duration_s / max(result.wall_s, 1e-9):.1f}x real time)",
        "written": output}))


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Timeline to write: .otio .otioz .edl .xml .fcpxml .kdenlive .mlt .csv "
                   ".json")
@click.option("--model", "-m", default="auto", show_default=True,
              help=f"auto ({DEFAULT_MODEL} when cached or the hub answers, else embedded), "
                   "embedded (ImageNet EfficientNet-Lite0, installed), a hub id, a "
                   "save_pretrained dir or a scenesem checkpoint.")
@click.option("--shots", "shots_edit", type=click.Path(path_type=Path), default=None,
              help="Take shots from an existing edit (any timeline format: .otio .edl .xml "
                   ".fcpxml .kdenlive .mlt .csv .json) instead of detecting them.")
@shot_detector_option
@threshold_option
@min_shot_option
@min_content_option
@click.option("--level", type=click.Choice(OUTPUT_LEVELS), default="scenes",
              show_default=True, help="One clip per scene, or per shot with scene markers.")
@click.option("--scenes", "n_scenes", type=SceneCountParam(), default=None,
              help="Exactly N scenes (the N−1 most likely cuts under the minimum scene with a "
                   "boundary model, else optimal sequential grouping), or `auto`: N chosen "
                   "from the film [default: a calibrated checkpoint's θ, else auto].")
@click.option("--min-scene", "min_scene_s", type=click.FloatRange(min=0), default=None,
              help="Minimum scene length in seconds [default: the checkpoint's; without one "
                   f"{DEFAULT_MIN_SCENE_S:g} with --threshold; none with --scenes auto, or N "
                   "without a boundary model].")
@click.option("--threshold", "threshold", type=click.FloatRange(0, 1), default=None,
              help="Boundary score θ above which a shot cut is a scene cut; not with "
                   "--scenes [default: checkpoint calibration; without one, --scenes auto "
                   "decides instead].")
@click.option("--window", type=click.IntRange(min=1), default=SegmentOptions.window,
              show_default=True, help="Shots on each side of a boundary for its score.")
@click.option("--boundary-model/--cosine-rule", "boundary_model",
              default=SegmentOptions.boundary_model, show_default=True,
              help="Score shot cuts with the checkpoint's boundary model when it has one, or "
                   "with the cosine rule.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where the model runs; auto: a GPU when there is one, else the CPU.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto",
              show_default=True, help="bf16 autocast on AMX CPUs and GPUs when auto.")
@click.option("--batch-size", type=click.IntRange(min=1), default=RuntimeOptions.batch_size,
              show_default=True, help="Clips the model embeds at once (lower it if memory "
                                      "runs out).")
@click.option("--embeddings", is_flag=True, help="Store scene embeddings in the timeline.")
@click.option("--report", type=click.Path(path_type=Path), default=None,
              help="Also write the HTML storyboard (thumbnails from the same decode).")
@resolve_markers_option
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
# ---- issue 16: speed options of cut
@click.option("--keep", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Fraction of VideoMAE tokens the encoder sees [default: the checkpoint's, "
                   f"else {DEFAULT_KEEP:g}; 1 = all].")
@click.option("--max-clips-per-shot", type=click.IntRange(min=0), default=None,
              help="Clip budget per shot; 0 = no cap [default: the checkpoint's sampling, "
                   f"else {DEFAULT_MAX_CLIPS_PER_SHOT}].")
# ---- end issue 16
@_friendly_errors
def cut(video: Path, output: Path, model: str | None, shots_edit: Path | None, detector: str,
        detector_threshold: float | None, min_shot: int | None, min_content: float | None,
        level: str,
        n_scenes: int | str | None, min_scene_s: float | None, threshold: float | None, window: int,
        boundary_model: bool,
        device: str, precision: str, batch_size: int, embeddings: bool, report: Path | None,
        resolve_markers: bool, no_progress: bool, keep: float | None,
        max_clips_per_shot: int | None) -> None:
    """Cut VIDEO into scenes and write a timeline with semantic-distance markers."""
    from scenesem_otio.pipeline import cut as run_cut

    options = cut_options(
        model=model, shots_edit=shots_edit, detector=detector,
        detector_threshold=detector_threshold, min_shot=min_shot, min_content=min_content,
        level=level, n_scenes=n_scenes, min_scene_s=min_scene_s, threshold=threshold,
        window=window, boundary_model=boundary_model, device=device, precision=precision,
        batch_size=batch_size, embeddings=embeddings, report=report,
        resolve_markers=resolve_markers, no_progress=no_progress, keep=keep,
        max_clips_per_shot=max_clips_per_shot)
    click.echo(cut_summary(run_cut(video, options, output=output)))


def cut_options(*, model: str | None, shots_edit: Path | None, detector: str,
                detector_threshold: float | None, min_shot: int | None,
                min_content: float | None, level: str, n_scenes: int | str | None,
                min_scene_s: float | None, threshold: float | None, window: int,
                boundary_model: bool, device: str, precision: str, batch_size: int,
                embeddings: bool, report: Path | None, resolve_markers: bool,
                no_progress: bool, keep: float | None, max_clips_per_shot: int | None) -> Any:
    """`cut`'s options -> CutOptions, the model chosen once (`batch` builds them the same)."""
    from scenesem_otio.core.config import CutOptions, OutputOptions
    from scenesem_otio.model.choose import choose_model

    if threshold is not None and n_scenes is not None:
        raise click.UsageError("--threshold and --scenes each decide the cuts; give one")
    if no_progress:
        quiet_library_bars()
    model, reason = choose_model(model)
    click.echo(f"model: {reason}", err=True)
    return CutOptions(
        shots=_shot_options(detector, detector_threshold, min_shot, min_content, shots_edit),
        segment=SegmentOptions(window=window, threshold=threshold, min_scene_s=min_scene_s,
                               n_scenes=n_scenes, boundary_model=boundary_model),
        runtime=RuntimeOptions(model=model, model_choice=reason, device=device,
                               precision=precision,
                               batch_size=batch_size, keep=keep,
                               max_clips_per_shot=max_clips_per_shot),
        output=OutputOptions(level=level, embeddings=embeddings,
                             resolve_markers=resolve_markers, report=report),
        progress=not no_progress)


def cut_summary(result: Any) -> str:
    """The one-screen table `scenesem cut` prints."""
    dists = [s.distance_prev for s in result.scenes if s.distance_prev is not None]
    info, film = result.info, result.film
    rtf = info.duration_s / max(result.wall_s, 1e-9)
    return _table({
        "scenes": len(result.scenes),
        "shots": len(film.shots),
        "clips": f"{film.n_clips} ({film.clips_per_s:.1f} clips/s on {result.device} "
                 f"{result.precision})",
        "mean Δ": f"{sum(dists) / len(dists):.3f}" if dists else "n/a",
        "decision": decision_line(result),
        "media": f"{info.n_frames} frames, {info.duration_s:.1f} s",
        "wall time": f"{result.wall_s:.1f} s ({rtf:.2f}x real time)",
        "written": str(result.output) if result.output else "(nothing: no output given)",
        **({"report": str(result.report)} if result.report else {}),
    })


def decision_line(result: Any) -> str:
    """How the number of scenes was decided, in the words the report uses: θ only where θ
    cut, the count's runner-up and whether the choice was clear (the report's rule)."""
    from scenesem_otio.report.count_plot import CLEAR_SHARE

    count, asked, shots = result.scene_count, result.segment.n_scenes, len(result.film.shots)
    if count is not None:
        if not count.curve:
            return f"N = {count.n}: {shots} shot{'s' * (shots != 1)}, too few to compare counts"
        if count.n not in count.curve:
            return f"N = {count.n}: no grouping into 2 or more scenes scored above 0"
        others = {n: v for n, v in count.curve.items() if n != count.n}
        peak = count.curve[count.n]
        line = f"N = {count.n} chosen from the film (silhouette {peak:.3f}"
        if others:
            runner = max(others, key=lambda n: (others[n], -n))
            clear = peak - others[runner] >= CLEAR_SHARE * abs(peak)
            line += (f"; next best N = {runner} at {others[runner]:.3f}: "
                     + ("clear" if clear else "a close call"))
        return line + (f"; scenes ≥ {count.min_scene_s:g} s)" if count.min_scene_s else ")")
    if isinstance(asked, int):
        made, least = len(result.scenes), result.segment.min_scene_s
        return f"N = {asked} from --scenes" + ("" if made == asked else (
            f" ({made} made: {shots} shots" + (f", scenes ≥ {least:g} s)" if least else ")")))
    least = result.segment.min_scene_s
    return f"θ = {result.threshold:.3f} ({result.threshold_source})" + (
        f", scenes ≥ {least:g} s" if least else "")


@main.command()
@click.argument("timeline", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Heat map of the scene distance matrix: .png, .pdf or .svg.")
@click.option("--top", type=click.IntRange(min=1), default=3, show_default=True,
              help="Nearest earlier scenes listed per scene.")
@_friendly_errors
def distance(timeline: Path, output: Path | None, top: int) -> None:
    """Semantic distances between the scenes of a TIMELINE written with --embeddings."""
    from scenesem_otio.analysis import distances, write_heatmap
    from scenesem_otio.core.fileio import check_writable
    from scenesem_otio.core.scenes import scene_label
    from scenesem_otio.segment.decide import nearest_earlier

    if output is not None:
        check_writable(output, (".png", ".pdf", ".svg"))
    found = distances(timeline)
    dist = found.matrix
    lines = [f"{'scene':<7}{'start':>9}  {'Δprev':>6}  nearest earlier"]
    for i, s in enumerate(found.scenes):
        prev = f"{dist[i, i - 1]:.3f}" if i else "   -  "
        near = ", ".join(f"{scene_label(j)} {d:.3f}" for j, d in nearest_earlier(dist, i, top))
        lines.append(f"{scene_label(i)}  {s.start:>9}  {prev:>6}  {near or '-'}")
    if output is not None:
        write_heatmap(found, output)
        lines.append(f"heatmap written to {output}")
    click.echo("\n".join(lines))


@main.command()
@click.option("--data", "data", required=True, multiple=True,
              help="Manifest (YAML/JSON), FineVideo dir, or shards (.parquet/.tar). Repeatable.")
@click.option("--model", "base_model", default=TrainConfig.base_model, show_default=True,
              help="Backbone: auto, embedded, a hub id, a save_pretrained dir or a scenesem "
                   "checkpoint (as for cut).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Checkpoint directory to write.")
@click.option("--unfreeze", type=click.IntRange(0, 64), default=TrainConfig.unfreeze,
              show_default=True, help="Train the last K encoder layers (SPEC: 2–4).")
@click.option("--labels", "label_mode", type=click.Choice(["scene", "frame"]), default="scene",
              show_default=True, help="Scene-level labels, or per-frame labels from the "
                                      "manifest's `labels:` files.")
@click.option("--mapping", type=click.Choice(["linear", "squared"]), default="linear",
              show_default=True, help="Text similarity -> soft weights.")
@click.option("--lambda-neg", type=click.FloatRange(min=0), default=TrainConfig.lambda_neg,
              show_default=True, help="Weight of the push-apart term next to the pull-together "
                                      "term in the text-guided loss.")
@click.option("--alpha", type=click.FloatRange(min=0), default=TrainConfig.alpha,
              show_default=True,
              help="Weight of the text-guided term (0 = visual only).")
@click.option("--text-window", type=(float, float), default=TrainConfig.text_window,
              show_default=True, metavar="LOW HIGH",
              help="Percentiles of the training texts' similarities that map to u = 0 and 1.")
@click.option("--margin", type=float, default=TrainConfig.margin, show_default=True,
              help="Similarity below which a pair pushed apart costs nothing.")
@click.option("--text-model", default=None,
              help="sentence-transformers id/dir, hf:MODEL for mean-pooled LLM, or an "
                   "http(s) /v1/embeddings URL.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Training steps, instead of --epochs.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Passes over the training scenes [default: 3 without --steps].")
@click.option("--batch-scenes", type=click.IntRange(min=2), default=TrainConfig.batch_scenes,
              show_default=True, help="Scenes per training step.")
@click.option("--lr-head", type=click.FloatRange(min=0, min_open=True),
              default=TrainConfig.lr_head, show_default=True,
              help="Learning rate of the head (and the boundary model).")
@click.option("--lr-backbone", type=click.FloatRange(min=0), default=TrainConfig.lr_backbone,
              show_default=True, help="Learning rate of the unfrozen encoder layers.")
@click.option("--save-every", type=click.IntRange(min=1), default=TrainConfig.save_every,
              show_default=True, help="Steps between checkpoints.")
@click.option("--cache-features", type=click.Path(path_type=Path), default=None,
              help="Cache frozen-layer outputs here (fp16, memory-mapped).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option("--stop-after", type=click.IntRange(min=1), default=None,
              help="Save and stop after this step (fit a job slot); continue with --resume.")
@click.option("--boundary-model/--no-boundary-model", default=TrainConfig.boundary_model,
              show_default=True,
              help="After the embeddings, train the contextual boundary model `cut` uses.")
@click.option("--boundary-members", type=click.IntRange(min=1),
              default=TrainConfig.boundary_members, show_default=True,
              help="Boundary models (seeds) averaged; one is fastest, five judge steadier.")
@click.option("--boundary-colour/--no-boundary-colour", default=TrainConfig.boundary_colour,
              show_default=True,
              help="Stage mode: the boundary model also reads each shot's colour histogram.")
@click.option("--boundary-training", type=click.Choice(BOUNDARY_TRAINING),
              default=TrainConfig.boundary_training, show_default=True,
              help="stage: learn the boundary model after the embeddings, on their frozen "
                   "shot embeddings; joint: add its BCE to every contrastive step.")
@click.option("--boundary-weight", type=click.FloatRange(min=0),
              default=TrainConfig.boundary_weight, show_default=True,
              help="Weight of the joint boundary BCE next to L_seg + αL_sem.")
@click.option("--boundary-folds", type=click.IntRange(min=0), default=None,
              help="K ≥ 2: also fit the boundary model on each training film as embedded by "
                   "one of K runs trained without it (K more runs); 0: off "
                   f"[default: {DEFAULT_FOLDS} with --boundary-training stage].")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--keep", type=click.FloatRange(0, 1, min_open=True), default=None,  # issue 16
              help="Fraction of VideoMAE tokens the encoder sees, recorded in the checkpoint "
                   f"[default: the base checkpoint's, else {DEFAULT_KEEP:g}].")
@_friendly_errors
def train(data: tuple[str, ...], out_dir: Path, cache_features: Path | None,
          no_progress: bool, **options: Any) -> None:
    """Fine-tune the scene-embedding model with the text-guided soft contrastive loss."""
    from scenesem_otio.core.errors import CheckpointError
    from scenesem_otio.core.fileio import check_writable_dir
    from scenesem_otio.train.trainer import train as run_train

    for folder in (out_dir, cache_features):  # written after the training: check them first
        if folder is not None:
            check_writable_dir(folder, CheckpointError)
    cfg = TrainConfig(data=list(data), out_dir=str(out_dir),
                      cache_features=str(cache_features) if cache_features else None,
                      progress=not no_progress, **options)
    start = time.perf_counter()
    s = run_train(cfg)
    rows: dict[str, Any] = {"steps": f"{s.steps}/{s.total}"}
    if s.loss_first10 is not None:
        rows["loss"] = f"{s.loss_first10:.4f} (first 10) -> {s.loss_last10:.4f} (last 10)"
    rows["text a, b"] = f"{s.text_a:.3f}, {s.text_b:.3f}"
    if s.calibration is not None and s.calibration.threshold is not None:
        rows["θ"] = (f"{s.calibration.threshold:.4f}, min scene {s.calibration.min_scene_s:g} s "
                     f"(F1 {s.calibration.f1:.3f} on {s.calibration.split})")
        if s.calibration.f1 == 0:  # e.g. pseudo-label put a one-shot film in `split: val`
            click.echo(f"warning: θ matched no scene cut of the {s.calibration.split} films, so "
                       "the checkpoint may cut nothing; calibrate on films with several scenes",
                       err=True)
    if s.epoch_times_s:
        rows["epoch times"] = ", ".join(f"{t:.1f} s" for t in s.epoch_times_s)
    if s.stopped:
        rows["stopped"] = "early; continue with --resume"
    rows["wall time"] = f"{time.perf_counter() - start:.1f} s"
    rows["checkpoint"] = cfg.out_dir
    click.echo(_table(rows, 14))


@main.command(name="pseudo-label")
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder for the pseudo-scene timelines and manifest.yaml.")
@click.option("--model", default=None,
              help="Model that embeds the shots (as for cut) [default: auto].")
@click.option("--method", type=click.Choice(PSEUDO_METHODS), default=PSEUDO_METHOD,
              show_default=True, help="cosine: the model's cosine rule at its 80th "
              "percentile; dtw: BaSSL-style votes of two-anchor DTW splits.")
@click.option("--window", type=click.IntRange(min=1), default=PSEUDO_WINDOW, show_default=True,
              help="dtw: each vote splits a window of 2W + 1 shots in two.")
@click.option("--min-votes", type=click.FloatRange(0, 1, min_open=True),
              default=PSEUDO_MIN_VOTES, show_default=True,
              help="dtw: share of the windows containing a shot cut that must split there.")
@click.option("--min-scene", "min_scene_s", type=click.FloatRange(min=0), default=0.0,
              show_default=True, help="Seconds: no pseudo scene shorter than this.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@_friendly_errors
def pseudo_label(videos: tuple[Path, ...], out_dir: Path, model: str | None, method: str,
                 window: int, min_votes: float, min_scene_s: float, no_progress: bool) -> None:
    """Unlabelled footage -> pseudo-edited projects to train on (BaSSL-style pseudo-scenes).

    Then: scenesem train --data OUT/manifest.yaml --alpha 0 --out CKPT
    """
    from scenesem_otio.model.checkpoint import load_embedder
    from scenesem_otio.train.pseudo import write_pseudo_projects

    for video in videos:
        if video.is_dir():
            raise click.UsageError(f"{video}: is a directory, not a video file")
        if not video.is_file():
            raise click.UsageError(f"{video}: no such video file")
    if no_progress:
        quiet_library_bars()
    manifest, projects = write_pseudo_projects(
        videos, out_dir, load_embedder(model), method=method, window=window,
        min_votes=min_votes,
        min_scene_s=min_scene_s, progress=not no_progress)
    for p in projects:
        click.echo(f"{p.video.name}: {p.shots} shot{'s' * (p.shots != 1)} -> {p.scenes} "
                   f"pseudo scene{'s' * (p.scenes != 1)} ({p.timeline.name})")
    click.echo(f"manifest: {manifest}\nnext: scenesem train --data {manifest} --alpha 0 "
               "--out CHECKPOINT")


@main.command(name="eval")
@click.argument("pred", type=click.Path(path_type=Path))
@click.option("--truth", type=click.Path(path_type=Path), default=None,
              help="Truth timeline or CSV (omit when PRED is a manifest).")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="Seconds within which a predicted boundary matches a true one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--baseline", "with_baseline", is_flag=True,
              help="Add PySceneDetect's shots-as-scenes on the same video.")
@click.option("--fps", default=None,
              help="Frame rate for EDL/CSV-only comparisons (e.g. 24000/1001).")
@_friendly_errors
def eval_(pred: Path, truth: Path | None, tolerance: float, as_json: bool,
          with_baseline: bool, fps: str | None) -> None:
    """Score predicted scenes against truth: boundary P/R/F1, AP, mIoU, coverage/overflow.

    PRED may also be a manifest (YAML/JSON list of {pred, truth[, video]}) for many videos.
    """
    from scenesem_otio.core.scenes import parse_rate
    from scenesem_otio.evaluate.compare import evaluate_pairs, evaluation_pairs

    rate = parse_rate(fps, "--fps").limit_denominator(1001) if fps else None
    rows = evaluate_pairs(evaluation_pairs(pred, truth), tolerance=tolerance, fps=rate,
                          with_baseline=with_baseline)
    if as_json:
        click.echo(json.dumps({"tolerance_s": tolerance, "results": [
            {"video": r.video, "method": r.method, **r.metrics} for r in rows]}, indent=2))
    else:
        click.echo(eval_table(rows, tolerance))


EVAL_COLUMNS = (("precision", "P"), ("recall", "R"), ("f1", "F1"), ("ap", "AP"),
                ("miou", "mIoU"), ("coverage", "Cov"), ("overflow", "Ovf"),
                ("cov_of_f", "F(C,O)"))


def eval_table(rows: list[Any], tolerance: float) -> str:
    """Rows of (video, method, metrics) -> a fixed-width table."""
    width = max([5, *(len(r.video) for r in rows)])
    mwidth = max([6, *(len(r.method) for r in rows)])
    head = f"{'video':<{width}}  {'method':<{mwidth}}" + "".join(
        f"{label:>8}" for _, label in EVAL_COLUMNS) + f"{'scenes':>8}{'truth':>7}"
    lines = [f"boundaries matched within ±{tolerance:g} s", head, "-" * len(head)]
    for r in rows:
        m = r.metrics
        cells = "".join(f"{m[key]:>8.3f}" if m.get(key) is not None else f"{'-':>8}"
                        for key, _ in EVAL_COLUMNS)
        n_pred = m.get("n_pred_scenes", m["n_pred"] + 1 if "n_pred" in m else "-")
        n_truth = m.get("n_truth_scenes", m["n_truth"] + 1 if "n_truth" in m else "-")
        lines.append(f"{r.video:<{width}}  {r.method:<{mwidth}}{cells}{n_pred!s:>8}"
                     f"{n_truth!s:>7}")
    return "\n".join(lines)


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--films", "n_films", type=click.IntRange(min=1), default=4, show_default=True,
              help="How many films to render.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The same seed renders the same films.")
@click.option("--width", type=int, default=320, show_default=True,
              help="Frame width in pixels (even, ≥ 64).")
@click.option("--height", type=int, default=180, show_default=True,
              help="Frame height in pixels (even, ≥ 64).")
@click.option("--fps", default="25", show_default=True, help="Rate, e.g. 25 or 24000/1001.")
@_friendly_errors
def synth(out_dir: Path, n_films: int, seed: int, width: int, height: int, fps: str) -> None:
    """Render benchmark films with a known scene structure, truth timelines and a manifest."""
    from scenesem_otio.demo.synth import synth_films

    start = time.perf_counter()
    entries = synth_films(out_dir, n_films, seed, width, height, fps)
    click.echo(_table({
        "films": f"{len(entries)} ({width}x{height} @ {fps})",
        "truth": f"{out_dir}/film_NNN.truth.otio (scene markers with text)",
        "manifest": Path(out_dir) / "manifest.yaml",
        "wall time": f"{time.perf_counter() - start:.1f} s"}))


@main.command()
@click.option("--minutes", type=click.FloatRange(min=0.5), default=8.0, show_default=True,
              help="Sets the training steps of each of its four runs (50 per minute, 40 to "
                   "600); rendering, cross-fitting and evaluation come on top, so a short "
                   "budget overruns (0.5 took over 15 min on a busy 2-core CPU).")
@click.option("--workdir", type=click.Path(path_type=Path), default=None,
              help="Keep films, checkpoints and timelines here.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the films and of the first training run.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Training seeds per row (mean ± sd over them); 3 for evidence.")
@_friendly_errors
def demo(minutes: float, workdir: Path | None, seed: int, seeds: int) -> None:
    """Offline end-to-end proof: synth -> train tiny model -> cut -> eval vs PySceneDetect."""
    from scenesem_otio.demo.run import run_demo

    click.echo(run_demo(minutes=minutes, workdir=workdir, seed=seed, seeds=seeds))


# ---- issue 27: `scenesem batch` (batch/); one insertion, kept together
@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder for the films' outputs, batch.jsonl and index.html.")
@click.option("--format", "formats", default="otio", show_default=True,
              help="Timeline formats per film, comma-separated (otio,edl,xml,fcpxml,…).")
@click.option("--report", is_flag=True, help="Also write each film's HTML storyboard.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Worker processes here, or Ray actors (pip install "
              "'scenesem-otio[ray]').")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Workers [default: one per 2 CPU cores, at least one per GPU].")
@click.option("--ray-address", default=None,
              help="Join this Ray cluster (e.g. ray://head:10001 or auto) instead of starting "
                   "a local Ray.")
@click.option("--redo", is_flag=True, help="Cut every film again, even those already done.")
@click.option("--retry-failed", is_flag=True,
              help="Try again the films that failed earlier on the same file and options.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@_friendly_errors
def batch(inputs: tuple[str, ...], out_dir: Path, formats: str, report: bool, engine: str,
          workers: int | None, ray_address: str | None, redo: bool, retry_failed: bool,
          no_progress: bool, **cut_params: Any) -> None:
    """Cut every film in INPUTS (files, folders, list files of paths) into the -o folder with
    `cut`'s options; resumable: films already cut from the same file the same way are skipped."""
    from scenesem_otio.batch.run import run_batch

    options = cut_options(shots_edit=None, report=None, no_progress=True, **cut_params)
    summary = run_batch(list(inputs), out_dir, options, formats=formats, report=report,
                        engine=engine, workers=workers, ray_address=ray_address, redo=redo,
                        retry_failed=retry_failed, progress=not no_progress)
    click.echo(summary.table())
    for record in summary.failed:
        error = record.error or ""
        click.echo(f"failed: {error if record.input in error else f'{record.input}: {error}'}",
                   err=True)
    if summary.failed:
        sys.exit(1)


# `cut`'s own options (model, shots, scenes, runtime, output), not copies that could drift
batch.params.extend(p for p in cut.params if p.name not in
                    {"video", "output", "shots_edit", "report", "no_progress"})
# ---- end of issue 27 insertion


# ---- issue 14: `scenesem report` (report.py); one insertion, kept together
@main.command()
@click.argument("timeline", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="HTML file to write: one self-contained page, opens from disk.")
@click.option("--video", type=click.Path(path_type=Path), default=None,
              help="The film, when the timeline's media path is gone or has moved.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@_friendly_errors
def report(timeline: Path, output: Path, video: Path | None, no_progress: bool) -> None:
    """HTML storyboard of a TIMELINE (.otio/.otioz from `scenesem cut`): scenes, keyframes,
    boundary scores and distances, to look at before importing it into the NLE."""
    from scenesem_otio.report.write import write_report

    result = write_report(timeline, output, video=video, progress=not no_progress)
    click.echo(result.summary())
# ---- end of issue 14 insertion


# ---- issue 26: timeline conversion and the Blender add-on
@main.command()
@click.argument("timeline", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Timeline to write; format from the extension (.json for scripts).")
@click.option("--fps", default=None,
              help="Rate of an EDL/CSV input, which carries none (e.g. 24000/1001).")
@click.option("--resolve-markers", is_flag=True,
              help="EDL only: write markers in DaVinci Resolve's marker-EDL comment form.")
@_friendly_errors
def convert(timeline: Path, output: Path, fps: str | None, resolve_markers: bool) -> None:
    """Rewrite TIMELINE in another format, e.g. an editor's project as .json and back."""
    from scenesem_otio.adapters.formats import (
        FORMATS,
        check_output_path,
        read_timeline,
        write_timeline,
    )
    from scenesem_otio.core.scenes import parse_rate

    check_output_path(output)
    rate = parse_rate(fps).limit_denominator(1001) if fps else None
    known = FORMATS.get(timeline.suffix.lower())
    if rate is not None and known is not None and not known.needs_rate:
        click.echo(f"warning: --fps {fps} ignored: a {known.suffix} timeline carries its own "
                   "rate (--fps is for .edl and .csv)", err=True)
    write_timeline(read_timeline(timeline, rate=rate), output, resolve_markers=resolve_markers)
    click.echo(f"written: {output}")


@main.command(name="blender-addon")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              default=Path("scenesem_blender.zip"), show_default=True,
              help="Add-on zip to write; install it in Blender: Preferences → Add-ons → "
                   "Install.")
@_friendly_errors
def blender_addon(output: Path) -> None:
    """Write the Blender Video Sequence Editor add-on (cut, import, export scenes)."""
    from scenesem_otio.frontends.blender import write_addon

    write_addon(output)
    click.echo(f"written: {output}\nnext: Blender → Edit → Preferences → Add-ons → Install… "
               f"→ {output.name}, then enable 'Sequencer: scenesem scenes'")
# ---- end of issue 26 insertion


if __name__ == "__main__":
    main()
