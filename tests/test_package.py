"""Package-wide guarantees: cheap import, no unsafe loading, every command answers --help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scenesem_otio.cli import main

PACKAGE = Path(__file__).resolve().parents[1] / "scenesem_otio"
HEAVY = ("torch", "transformers", "av", "scenedetect", "cv2", "sentence_transformers")


def test_import_is_light() -> None:
    code = (
        "import sys, scenesem_otio, scenesem_otio.cli, scenesem_otio.adapters; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_pickle_anywhere() -> None:
    """Checkpoints and caches are safetensors/JSON/npy: nothing may unpickle a file."""
    bad = re.compile(r"\bimport pickle\b|\bpickle\.load|\bdill\b|allow_pickle\s*=\s*True|"
                     r"torch\.load\((?![^)]*weights_only\s*=\s*True)")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}"
        for path in PACKAGE.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if bad.search(line)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "command", ["info", "baseline", "cut", "distance", "train", "eval", "synth", "demo",
                "report", "pseudo-label", "convert", "blender-addon", "batch"]
)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: main" in result.output or "Usage: scenesem" in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and "0.1.0" in result.output
