"""`scenesem` command line: thin click commands over pipeline, trainer and evaluate.

Heavy imports (torch, transformers, av, scenedetect) happen inside commands so that `--help`
is instant. Every `ScenesemError` becomes one `error: …` line and exit status 1.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from scenesem_otio import __version__
from scenesem_otio.errors import ScenesemError

SHOT_DETECTORS = ["adaptive", "content", "hash", "hist"]


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
            where = f" ({err.filename})" if getattr(err, "filename", None) else ""
            click.echo(f"error: {err.strerror or err}{where}", err=True)
            sys.exit(1)

    return wrapper


resolve_markers_option = click.option(
    "--resolve-markers", is_flag=True,
    help="EDL only: write markers in DaVinci Resolve's marker-EDL comment form.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scenesem")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Cut films into scenes and measure the semantic distance between them."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)



shot_detector_option = click.option(
    "--shot-detector", "--detector", "detector", type=click.Choice(SHOT_DETECTORS),
    default="adaptive", show_default=True, help="PySceneDetect detector for shot cuts.",
)
threshold_option = click.option(
    "--shot-threshold", "detector_threshold", type=float, default=None,
    help="Detector threshold (PySceneDetect's default per detector when omitted).",
)
min_shot_option = click.option(
    "--min-shot", "min_shot", type=int, default=None,
    help="Minimum shot length in frames (PySceneDetect's min_scene_len; default 15).",
)


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_friendly_errors
def info(video: Path, as_json: bool) -> None:
    """Print what probing VIDEO finds: exact rate, frames, timecode, VFR, size."""
    from scenesem_otio.pipeline import info as run_info

    click.echo(run_info(video, as_json=as_json))


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Timeline to write; format from the extension.")
@shot_detector_option
@click.option("--threshold", "detector_threshold", type=float, default=None,
              help="Detector threshold (PySceneDetect's default per detector when omitted).")
@min_shot_option
@resolve_markers_option
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@_friendly_errors
def baseline(video: Path, output: Path, detector: str, detector_threshold: float | None,
             min_shot: int | None, resolve_markers: bool, no_progress: bool) -> None:
    """PySceneDetect shots of VIDEO, one clip per shot, through the same timeline writer."""
    from scenesem_otio.pipeline import baseline as run_baseline

    summary = run_baseline(video, output, detector=detector, threshold=detector_threshold,
                           min_shot=min_shot, progress=not no_progress,
                           resolve_markers=resolve_markers)
    click.echo(summary)


@main.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Timeline to write: .otio .otioz .edl .xml .fcpxml .kdenlive .csv .json")
@click.option("--model", "-m", default=None,
              help="Hub id, save_pretrained dir or scenesem checkpoint "
                   "[default: MCG-NJU/videomae-base].")
@click.option("--shots", "shots_edit", type=click.Path(path_type=Path), default=None,
              help="Take shots from an existing edit (.otio/.edl/.xml/.fcpxml) instead.")
@shot_detector_option
@threshold_option
@min_shot_option
@click.option("--level", type=click.Choice(["scenes", "shots"]), default="scenes",
              show_default=True, help="One clip per scene, or per shot with scene markers.")
@click.option("--scenes", "n_scenes", type=click.IntRange(min=1), default=None,
              help="Exactly N scenes (optimal sequential grouping).")
@click.option("--min-scene", "min_scene_s", type=click.FloatRange(min=0), default=None,
              help="Minimum scene length in seconds [default: the checkpoint's, else 8].")
@click.option("--threshold", "threshold", type=click.FloatRange(0, 1), default=None,
              help="Boundary score θ [default: checkpoint calibration, else 80th percentile].")
@click.option("--window", type=click.IntRange(min=1), default=2, show_default=True,
              help="Shots on each side of a boundary for its score.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto",
              show_default=True, help="bf16 autocast on AMX CPUs and GPUs when auto.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--embeddings", is_flag=True, help="Store scene embeddings in the timeline.")
@resolve_markers_option
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@_friendly_errors
def cut(video: Path, output: Path, **options: Any) -> None:
    """Cut VIDEO into scenes and write a timeline with semantic-distance markers."""
    from scenesem_otio.pipeline import cut as run_cut

    no_progress = options.pop("no_progress")
    result = run_cut(video, output, progress=not no_progress, **options)
    click.echo(result.summary())


@main.command()
@click.argument("timeline", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Heatmap PNG of the scene distance matrix.")
@click.option("--top", type=click.IntRange(min=1), default=3, show_default=True,
              help="Nearest earlier scenes listed per scene.")
@_friendly_errors
def distance(timeline: Path, output: Path | None, top: int) -> None:
    """Semantic distances between the scenes of a TIMELINE written with --embeddings."""
    from scenesem_otio.pipeline import distance as run_distance

    click.echo(run_distance(timeline, output, top=top))


@main.command()
@click.option("--data", "data", required=True, multiple=True,
              help="Manifest (YAML/JSON), FineVideo dir, or shards (.parquet/.tar). Repeatable.")
@click.option("--model", "base_model", default="MCG-NJU/videomae-base", show_default=True,
              help="Backbone: hub id, save_pretrained dir or scenesem checkpoint.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Checkpoint directory to write.")
@click.option("--unfreeze", type=click.IntRange(0, 64), default=2, show_default=True,
              help="Train the last K encoder layers (SPEC: 2–4).")
@click.option("--labels", type=click.Choice(["scene", "frame"]), default="scene",
              show_default=True)
@click.option("--mapping", type=click.Choice(["linear", "squared"]), default="linear",
              show_default=True, help="Text similarity -> soft weights.")
@click.option("--lambda-neg", type=float, default=1.0, show_default=True)
@click.option("--alpha", type=float, default=1.0, show_default=True,
              help="Weight of the text-guided term (0 = visual only).")
@click.option("--margin", type=float, default=0.0, show_default=True)
@click.option("--text-model", default=None,
              help="sentence-transformers id/dir, hf:MODEL for mean-pooled LLM, or an "
                   "http(s) /v1/embeddings URL.")
@click.option("--steps", type=click.IntRange(min=1), default=None)
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--batch-scenes", type=click.IntRange(min=2), default=8, show_default=True)
@click.option("--lr-head", type=float, default=1e-3, show_default=True)
@click.option("--lr-backbone", type=float, default=1e-5, show_default=True)
@click.option("--save-every", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--cache-features", type=click.Path(path_type=Path), default=None,
              help="Cache frozen-layer outputs here (fp16, memory-mapped).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --out.")
@click.option("--stop-after", type=click.IntRange(min=1), default=None,
              help="Save and stop after this step (fit a job slot); continue with --resume.")
@click.option("--no-progress", is_flag=True)
@_friendly_errors
def train(**options: Any) -> None:
    """Fine-tune the scene-embedding model with the text-guided soft contrastive loss."""
    from scenesem_otio.model.trainer import train_from_cli

    click.echo(train_from_cli(**options))


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
    from scenesem_otio.evaluate import evaluate_cli

    click.echo(evaluate_cli(pred, truth, tolerance=tolerance, as_json=as_json,
                            with_baseline=with_baseline, fps=fps))


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--films", "n_films", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--width", type=int, default=320, show_default=True)
@click.option("--height", type=int, default=180, show_default=True)
@click.option("--fps", default="25", show_default=True, help="Rate, e.g. 25 or 24000/1001.")
@_friendly_errors
def synth(out_dir: Path, n_films: int, seed: int, width: int, height: int, fps: str) -> None:
    """Render benchmark films with a known scene structure, truth timelines and a manifest."""
    from scenesem_otio.synth import synth_cli

    click.echo(synth_cli(out_dir, n_films=n_films, seed=seed, width=width, height=height,
                         fps=fps))


@main.command()
@click.option("--minutes", type=click.FloatRange(min=0.5), default=8.0, show_default=True,
              help="Time budget for the whole demo.")
@click.option("--workdir", type=click.Path(path_type=Path), default=None,
              help="Keep films, checkpoints and timelines here.")
@click.option("--seed", type=int, default=0, show_default=True)
@_friendly_errors
def demo(minutes: float, workdir: Path | None, seed: int) -> None:
    """Offline end-to-end proof: synth -> train tiny model -> cut -> eval vs PySceneDetect."""
    from scenesem_otio.demo import run_demo

    click.echo(run_demo(minutes=minutes, workdir=workdir, seed=seed))


if __name__ == "__main__":
    main()
