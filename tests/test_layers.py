"""Layering: every import in the package follows the stage order, read from the source (ast).

media -> model -> segment/evaluate -> adapters -> pipeline -> train -> demo -> cli: a module may
import its own layer and the layers before it, never a later one (lazy imports inside functions
count too: they hide cycles, they do not remove them).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scenesem_otio"

# Units are top-level modules or subpackages; a full dotted name overrides its subpackage.
LAYERS: list[set[str]] = [
    # `__version__`: the one name taken from the package root (a string, no import cost).
    {"errors", "fileio", "config", "scenes", "progress", "prefetch", "manifest", "vectors",
     "colours", "__version__"},
    {"media"},
    {"model"},
    {"segment", "evaluate", "calibrate"},
    {"adapters"},
    {"pipeline", "compare", "synth", "report"},
    {"train"},
    {"demo"},
    # Front ends: the CLI, the OTIO plugin entry points and the package's lazy public API.
    {"cli", "__main__", "__init__", "adapters.otio_plugin", "adapters.otio_nle_plugin"},
]


def unit_of(dotted: str) -> str:
    """`model.embedder` -> `model`, unless the full name has a layer of its own."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if any(name in layer for layer in LAYERS) and (n == 1 or n == len(parts)):
            return name
    return parts[0]


def layer_of(dotted: str) -> int:
    unit = unit_of(dotted)
    for i, layer in enumerate(LAYERS):
        if unit in layer:
            return i
    raise AssertionError(f"scenesem_otio.{dotted} is in no layer: add it to LAYERS")


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, module inside scenesem_otio) for every import statement in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        # `from scenesem_otio.media import probe` names the module `media.probe`.
        inside = [n.removeprefix("scenesem_otio.") for n in names
                  if n.startswith("scenesem_otio.")]
        if inside:
            found.append((node.lineno, max(inside, key=lambda n: n.count("."))
                          if isinstance(node, ast.ImportFrom) else inside[0]))
    return found


def violations(module: str, source: str) -> list[str]:
    """Imports in `module` (dotted, without the package) that reach a later layer."""
    own = layer_of(module)
    return [f"scenesem_otio.{module}:{line} imports scenesem_otio.{target} (a later stage)"
            for line, target in imported_modules(source)
            if layer_of(_known(target)) > own]


def _known(target: str) -> str:
    """An imported name may be a function (`pipeline.cut`): strip to a module that exists."""
    parts = target.split(".")
    while len(parts) > 1 and not (
            (PACKAGE / Path(*parts)).with_suffix(".py").exists()
            or (PACKAGE / Path(*parts)).is_dir()):
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, str]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        out[".".join(parts)] = path.read_text()
    return out


def test_every_import_follows_the_stage_order() -> None:
    found = [v for module, source in package_modules().items()
             for v in violations(module, source)]
    assert found == []


def test_a_backwards_import_is_caught() -> None:
    """The check itself: a model module that reaches for the pipeline or training fails."""
    assert violations("model.head", "from scenesem_otio.pipeline import cut\n")
    assert violations("model.embedder", "def f():\n    import scenesem_otio.train.trainer\n")
    assert violations("media.decode", "from scenesem_otio.adapters.formats import read\n")
    assert violations("evaluate", "from scenesem_otio.adapters import formats\n")
    assert violations("pipeline", "from scenesem_otio.train.trainer import train\n")
    assert not violations("train.trainer", "from scenesem_otio.pipeline import embed_film\n")
    assert not violations("cli", "from scenesem_otio.demo import run_demo\n")
