"""Progress bars for long work (rich), off for tests, pipes and `--no-progress`; or, with
`scenesem --progress json`, one JSON line per percent on stderr for a program driving the
CLI (the Blender add-on): `{"task": "embedding", "done": 120, "total": 264}`."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator

STYLES = ("bar", "json")
_style = "bar"


def set_progress_style(style: str) -> None:
    """How every later progress display of this process looks: `bar` or `json` lines."""
    global _style
    if style not in STYLES:
        raise ValueError(f"unknown progress style {style!r}")
    _style = style
    if style == "json":  # a program reads stderr: only our lines
        quiet_library_bars()


def quiet_library_bars() -> None:
    """No tqdm bars from Hugging Face libraries ("Loading weights", "Writing model shards")
    where ours are off: `--no-progress` means none. The environment reaches a library not
    imported yet (transformers reads it on import); one already imported is told directly."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def _json_lines(description: str, total: int | None) -> Callable[[int], None]:
    done = 0
    shown = -1

    def emit() -> None:
        sys.stderr.write(json.dumps({"task": description, "done": done, "total": total}) + "\n")
        sys.stderr.flush()

    def advance(n: int = 1) -> None:
        nonlocal done, shown
        done += n
        step = done * 100 // total if total else done
        if step != shown:
            shown = step
            emit()

    emit()
    return advance


@contextlib.contextmanager
def progress_bar(description: str, total: int | None, unit: str = "it",
                 enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield `advance(n)`; shows done/total, rate in `unit`/s and time left on stderr."""
    if not enabled:
        def ignore(n: int = 1) -> None:
            return None

        yield ignore
        return
    if _style == "json":
        yield _json_lines(description, total)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"),
        TimeRemainingColumn(),
    ]
    console = Console(file=sys.stderr)
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total, rate="")

        def advance(n: int = 1) -> None:
            bar.advance(task, n)
            speed = bar.tasks[task].speed
            if speed:
                bar.update(task, rate=f"{speed:.1f} {unit}/s")

        yield advance
