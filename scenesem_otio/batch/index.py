"""Batch stage 4: `OUTDIR/index.html`, every film of the ledger with links to its report and
timelines, rendered from a Jinja2 template (autoescaped: film names and errors are data)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

from scenesem_otio.batch.ledger import DONE, FilmRecord
from scenesem_otio.core.fileio import write_text_atomic

INDEX = "index.html"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _row(record: FilmRecord) -> dict:
    """A ledger record as the template shows it: links relative to OUTDIR."""
    outputs = record.outputs if record.status == DONE else []
    report = next((p for p in outputs if p.endswith(".html")), None)
    return {
        "film": record.film, "status": record.status, "scenes": record.scenes,
        "shots": record.shots, "duration": _clock(record.seconds),
        "wall": f"{record.wall_s:.1f} s" if record.wall_s is not None else "",
        "report": quote(report) if report else None,
        "timelines": [{"href": quote(p), "label": Path(p).suffix.lstrip(".")}
                      for p in outputs if not p.endswith(".html")],
        "input": record.input, "error": record.error,
    }


def render_index(records: list[FilmRecord], title: str) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("scenesem_otio.batch", "templates"),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True)
    films = [_row(r) for r in sorted(records, key=lambda r: r.film)]
    done = [r for r in records if r.status == DONE]
    hours = sum(r.seconds or 0.0 for r in done) / 3600
    return env.get_template("index.html.j2").render(
        title=title, films=films, n_done=len(done), n_failed=len(records) - len(done),
        video=f"{hours:.2f} hours cut", models=sorted({r.model for r in done if r.model}),
        written=time.strftime("%Y-%m-%d %H:%M"))


def write_index(out_dir: Path, records: list[FilmRecord]) -> Path:
    """Write OUTDIR/index.html atomically; returns its path."""
    path = out_dir / INDEX
    write_text_atomic(path, render_index(records, out_dir.name))
    return path
