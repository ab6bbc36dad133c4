"""Architecture, read from the source (ast): the stage order, no import cycle, short functions,
no HTML markup in Python.

core -> media -> adapters -> model -> embed -> segment/evaluate -> pipeline/report/train ->
batch/demo -> front ends (cli, frontends): a module may import its own layer and the layers
before it, never a later one. Lazy imports inside functions count too: they hide cycles, they
do not remove them. Inside a layer the whole import graph must still sort topologically.
"""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scenesem_otio"

# Units are top-level modules or subpackages; a full dotted name overrides its subpackage.
LAYERS: list[set[str]] = [
    # `__version__`: the one name taken from the package root (a string, no import cost).
    {"core", "__version__"},
    {"media"},
    # Timelines <-> files: they need only the value types, and an edit read from a file gives
    # the shot stage its cuts, so formats sit under every stage that reads or writes one.
    {"adapters"},
    {"model"},
    {"embed"},
    {"segment", "evaluate"},
    # Beside each other: cutting (pipeline), reading a cut (analysis, report), training (train)
    # and the synthetic films that tests, training data and the demo share.
    {"pipeline", "analysis", "report", "train", "demo.synth"},
    {"batch", "demo"},
    # Front ends: the CLI, the OTIO plugins and Blender add-on, the package's lazy public API.
    {"cli", "__main__", "__init__", "frontends"},
]
MAX_FUNCTION_LINES = 60
# An HTML/XML tag inside a string constant: markup belongs in templates, XML in a library.
MARKUP = re.compile(r"<\s*/?\s*(html|head|body|div|span|section|table|tr|td|th|svg|a|p|img|"
                    r"script|style|li|ul|h[1-6]|br|title|button|input|meta|link)\b[^<]*>",
                    re.IGNORECASE)


def unit_of(dotted: str) -> str:
    """`model.embedder` -> `model`, unless the full name has a layer of its own."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if any(name in layer for layer in LAYERS):
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


def import_graph(modules: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the modules it imports, lazily or not, including the subpackages' `__init__`
    that Python runs on the way. The package root is left out: it holds only `__version__`
    and a lazy public API that no stage imports."""
    graph: dict[str, set[str]] = {}
    for module, source in modules.items():
        deps = set()
        for _, target in imported_modules(source):
            parts = _known(target).split(".")
            deps.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
        graph[module] = {d for d in deps if d in modules and d != module}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, or None when it sorts topologically."""
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        return list(err.args[1])
    return None


def long_functions(module: str, source: str) -> list[str]:
    return [f"scenesem_otio.{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


# Kdenlive keeps its project notes as rich text: a line break there is the file format's.
FORMAT_MARKUP = {("adapters.mlt", "<br/>")}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants: prose may name an element (FCP7's `<link>`)."""
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                          | ast.AsyncFunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}


def markup_strings(module: str, source: str) -> list[str]:
    tree = ast.parse(source)
    prose = _docstrings(tree)
    return [f"scenesem_otio.{module}:{node.lineno} {node.value[:60]!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in prose
            and MARKUP.search(node.value) and (module, node.value) not in FORMAT_MARKUP]


def test_every_import_follows_the_stage_order() -> None:
    found = [v for module, source in package_modules().items()
             for v in violations(module, source)]
    assert found == []


def test_no_import_cycle_between_modules() -> None:
    assert cycle(import_graph(package_modules())) is None


def test_no_library_function_over_60_lines() -> None:
    found = [f for module, source in package_modules().items()
             for f in long_functions(module, source)]
    assert found == []


def test_no_html_markup_in_python() -> None:
    found = [m for module, source in package_modules().items()
             for m in markup_strings(module, source)]
    assert found == []


def test_a_backwards_import_is_caught() -> None:
    """The check itself: a model module that reaches for the pipeline or training fails."""
    assert violations("model.head", "from scenesem_otio.pipeline import cut\n")
    assert violations("model.embedder", "def f():\n    import scenesem_otio.train.trainer\n")
    assert violations("media.decode", "from scenesem_otio.adapters.formats import read\n")
    assert violations("evaluate.metrics", "from scenesem_otio.pipeline import cut\n")
    assert violations("embed", "from scenesem_otio.pipeline import cut\n")
    assert violations("adapters.formats", "from scenesem_otio.frontends import otio_plugin\n")
    assert violations("adapters.timeline", "from scenesem_otio.segment.decide import segment\n")
    assert not violations("train.trainer", "from scenesem_otio.embed import embed_film\n")
    assert not violations("cli", "from scenesem_otio.demo.run import run_demo\n")


def test_a_cycle_is_caught_even_through_a_lazy_import() -> None:
    """The check itself: a lazy import back from `decide` into `calibrate` (the cycle that was
    there before this test) makes the graph unsortable."""
    modules = package_modules()
    modules["segment.decide"] += ("\n\ndef _late():\n"
                                  "    from scenesem_otio.segment.calibrate import fit_decoding\n")
    found = cycle(import_graph(modules))
    assert found is not None and {"segment.decide", "segment.calibrate"} <= set(found)


def test_the_checks_find_long_functions_and_markup() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    assert long_functions("m", f"def f():\n{body}\n")
    assert not long_functions("m", "def f():\n    return 1\n")
    assert markup_strings("m", 'X = f"<div class=a>{1}</div>"\n')
    assert markup_strings("m", "X = '<svg width=3>'\n")
    assert not markup_strings("m", "X = 'a < b and c > d'\n")
    assert not markup_strings("m", 'def f():\n    """Writes FCP7\'s <link> element."""\n')
    assert markup_strings("m", 'def f():\n    x = 1\n    return "<link rel=a>"\n')
