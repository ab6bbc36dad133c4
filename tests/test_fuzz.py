"""Fuzzing the timeline readers and the manifest loader with hypothesis.

Every generated or mutated input must end in a result or a clean one-line `ScenesemError`
(TimelineError / DataError) that names the file — never another exception type.

Seeds are small timelines written by our own writers (.otio .otioz .edl .xml .fcpxml .csv
.json) and a valid manifest; hypothesis flips bytes, truncates, inserts bytes and tokens,
duplicates/deletes/swaps lines, replaces numbers and timecodes, mutates JSON leaves, and
also feeds random text. The default run is a small CI budget; `--fuzz-long` runs the
`fuzz_long` tests, >= 10,000 inputs in total. The number of inputs tried per reader is
printed at the end of the module ("N inputs tried, all ended cleanly").
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections import Counter
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenesem_otio.adapters.formats import read_timeline, write_timeline
from scenesem_otio.adapters.timeline import build_timeline, cuts_from_timeline, scenes_from_timeline
from scenesem_otio.core.errors import ScenesemError
from scenesem_otio.core.manifest import load_manifest
from scenesem_otio.core.scenes import Scene, Shot, VideoInfo

SUFFIXES = (".otio", ".otioz", ".edl", ".xml", ".fcpxml", ".csv", ".json")
CI_EXAMPLES = 100  # per reader and strategy: the whole module runs in ~10 s
LONG_EXAMPLES = 1200  # per reader and strategy with --fuzz-long: > 10,000 inputs in all

TRIED: Counter = Counter()  # reader -> inputs tried
ENDED: Counter = Counter()  # (reader, "result" | "error") -> count

INFO = VideoInfo(path="/tmp/fuzz film.mp4", fps=Fraction(25), n_frames=400, width=160,
                 height=90, start_frame=90000, start_timecode="01:00:00:00")


def _settings(n: int) -> settings:
    return settings(max_examples=n, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ---------------------------------------------------------------- seeds


def _seed_timeline(info: VideoInfo):
    scenes = [
        Scene(index=0, start=0, end=60, n_shots=2, boundary_score=0.9, title="Opening",
              description="a kitchen, morning"),
        Scene(index=1, start=60, end=150, first_shot=2, distance_prev=0.62,
              boundary_score=0.71, nearest=[(0, 0.62)]),
        Scene(index=2, start=150, end=290, first_shot=3, n_shots=3, distance_prev=0.3),
        Scene(index=3, start=290, end=400, first_shot=6, distance_prev=0.12),
    ]
    shots = [Shot(0, 25), Shot(25, 60), Shot(60, 150), Shot(150, 200), Shot(200, 240),
             Shot(240, 290), Shot(290, 400)]
    return build_timeline(info, scenes), build_timeline(info, scenes, shots=shots,
                                                        level="shots")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def seeds(workdir: Path) -> dict[str, list[bytes]]:
    """suffix -> seed files written by our writers (scene level and shot level)."""
    film = workdir / "fuzz film.mp4"  # the .otioz writer bundles the media: needs a file
    film.write_bytes(b"\0" * 64)
    out: dict[str, list[bytes]] = {}
    for k, tl in enumerate(_seed_timeline(replace(INFO, path=str(film)))):
        for suffix in SUFFIXES:
            path = workdir / f"seed{k}{suffix}"
            write_timeline(tl, path)
            # every seed reads back cleanly, so mutations start from valid input
            read_timeline(path, rate=25)
            out.setdefault(suffix, []).append(path.read_bytes())
    return out


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest):
    started = time.monotonic()  # this module's own time, not the session's
    yield
    total = sum(TRIED.values())
    crashed = sum(n for (_, how), n in ENDED.items() if how == "crash")
    verdict = f"{crashed} ended in another exception" if crashed else \
        "all ended cleanly (a result or a ScenesemError)"
    lines = [f"fuzz: {total} inputs tried in {time.monotonic() - started:.1f} s, {verdict}"]
    for reader in sorted(TRIED):
        lines.append(f"fuzz:   {reader:<14} {TRIED[reader]:>6} inputs "
                     f"({ENDED[reader, 'result']} results, {ENDED[reader, 'error']} errors"
                     + (f", {ENDED[reader, 'crash']} CRASHES)" if ENDED[reader, "crash"] else ")"))
    plugins = request.config.pluginmanager
    tr, capman = plugins.getplugin("terminalreporter"), plugins.getplugin("capturemanager")
    if tr is None or capman is None:
        print("\n".join(lines))
        return
    with capman.global_and_fixture_disabled():  # shown without -s
        tr.write_line("")
        for line in lines:
            tr.write_line(line)


# ---------------------------------------------------------------- mutations

TOKENS = [
    "0", "-1", "-0", "1e308", "-1e308", "1e-308", "NaN", "nan", "inf", "-inf", "Infinity",
    "99999999999999999999999", "4294967296", "0.0", "1/0", "0/0", "25", "24000/1001",
    "null", "true", "[]", "{}", '""', "\"", "'", "<", ">", "</", "/>", "&", "&#0;", "]]>",
    "<!--", "{", "}", "[", "]", ",", ":", ";", "\n", "\r\n", "\t", "\x00", "\ufeff",
    "\u0394", "00:00:00:00", "99:99:99:99", "01:00:00;00", "-01:00:00:00", "*", "FCM: ",
    "DROP FRAME", "TITLE:", "001  AX       V     C        ", "M2   ", "*FROM CLIP NAME:",
    "* LOC: ", "OTIO_SCHEMA", "RationalTime.1", "Clip.2", "Timeline.1", "rate", "value",
    "source_range", "available_range", "<rate><timebase>0</timebase></rate>", "<duration>",
    "start_frame", "end_frame", "start_tc", "start_s", "metadata", "scenesem", "clips",
]
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
TIMECODE = re.compile(rb"\d{2}:\d{2}:\d{2}[:;]\d{2}")

numbers = st.one_of(
    st.sampled_from(["0", "-1", "1", "-0", "NaN", "inf", "-inf", "1e308", "1e-308",
                     "99999999999999999999", "24000/1001", "0.5", "", "x"]),
    st.integers(-(2**64), 2**64).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
timecodes = st.one_of(
    st.tuples(*[st.integers(0, 99)] * 4, st.sampled_from(":;")).map(
        lambda t: f"{t[0]:02d}:{t[1]:02d}:{t[2]:02d}{t[4]}{t[3]:02d}"),
    st.sampled_from(["", "00:00:00", "-01:00:00:00", "1:2:3:4", "aa:bb:cc:dd", "00:00:00:00:00"]),
)
snippets = st.one_of(st.sampled_from(TOKENS), st.text(max_size=12), numbers, timecodes)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
              st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(TOKENS),
              st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)

ops = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2**31), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 2**31)),
    st.tuples(st.just("bytes"), st.integers(0, 2**31), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("text"), st.integers(0, 2**31), snippets),
    st.tuples(st.just("delete"), st.integers(0, 2**31), st.integers(1, 16)),
    st.tuples(st.just("dup_line"), st.integers(0, 2**31)),
    st.tuples(st.just("del_line"), st.integers(0, 2**31)),
    st.tuples(st.just("swap_lines"), st.integers(0, 2**31), st.integers(0, 2**31)),
    st.tuples(st.just("number"), st.integers(0, 2**31), numbers),
    st.tuples(st.just("timecode"), st.integers(0, 2**31), timecodes),
    st.tuples(st.just("all_numbers"), numbers),
)


def _mutate(data: bytes, op: tuple) -> bytes:
    kind, *args = op
    n = len(data)
    if kind == "flip" and n:
        i = args[0] % n
        return data[:i] + bytes([data[i] ^ args[1]]) + data[i + 1:]
    if kind == "truncate":
        return data[:args[0] % (n + 1)]
    if kind in ("bytes", "text"):
        i = args[0] % (n + 1)
        ins = args[1] if kind == "bytes" else args[1].encode("utf-8", "surrogatepass")
        return data[:i] + ins + data[i:]
    if kind == "delete" and n:
        i = args[0] % n
        return data[:i] + data[i + args[1]:]
    lines = data.splitlines(keepends=True)
    if kind in ("dup_line", "del_line", "swap_lines") and lines:
        i = args[0] % len(lines)
        if kind == "dup_line":
            lines.insert(i, lines[i])
        elif kind == "del_line":
            del lines[i]
        else:
            j = args[1] % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        return b"".join(lines)
    if kind in ("number", "timecode"):
        pattern = NUMBER if kind == "number" else TIMECODE
        found = list(pattern.finditer(data))
        if found:
            m = found[args[0] % len(found)]
            return data[:m.start()] + args[1].encode() + data[m.end():]
    if kind == "all_numbers":
        return NUMBER.sub(lambda m: args[0].encode(), data)
    return data


def _paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in a JSON tree."""
    out = [prefix]
    if isinstance(tree, dict):
        for k, v in tree.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out += _paths(v, (*prefix, i))
    return out


def _set(tree: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return tree


def _mutate_json(data: bytes, edits: list[tuple[int, Any, bool]]) -> bytes:
    """Replace or delete values of a JSON document (OTIO and our scenes JSON)."""
    try:
        tree = json.loads(data)
    except ValueError:
        return data
    for where, value, delete in edits:
        paths = _paths(tree)
        path = paths[where % len(paths)]
        tree = _set(tree, path, value, delete and bool(path))
    return json.dumps(tree, indent=1, allow_nan=True).encode()


# ---------------------------------------------------------------- the check


def _ends_cleanly(reader: str, path: Path, call) -> None:
    TRIED[reader] += 1
    try:
        call()
    except ScenesemError as err:
        ENDED[reader, "error"] += 1
        msg = str(err)
        assert msg.strip(), f"{type(err).__name__} with an empty message"
        assert "\n" not in msg.strip(), f"message is not one line: {msg!r}"
        assert path.name in msg, f"message does not name the file: {msg!r}"
        return
    except BaseException:
        ENDED[reader, "crash"] += 1  # hypothesis then shrinks it and reports the smallest
        raise
    ENDED[reader, "result"] += 1


def _read_all(path: Path) -> None:
    timeline = read_timeline(path, rate=25)
    scenes_from_timeline(timeline, source=str(path))
    cuts_from_timeline(timeline, source=str(path))
    scenes_from_timeline(timeline, INFO, source=str(path))
    cuts_from_timeline(timeline, INFO, source=str(path))


def _check_timeline(workdir: Path, suffix: str, data: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=workdir, suffix=suffix, delete=False) as f:
        f.write(data)
    path = Path(f.name)
    try:
        _ends_cleanly(suffix, path, lambda: _read_all(path))
    finally:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- timeline readers


def _fuzz_mutations(seeds: dict[str, list[bytes]], workdir: Path, suffix: str, n: int):
    @_settings(n)
    @given(which=st.integers(0, 1), edits=st.lists(ops, min_size=1, max_size=6))
    def run(which: int, edits: list[tuple]) -> None:
        data = seeds[suffix][which]
        for op in edits:
            data = _mutate(data, op)
        _check_timeline(workdir, suffix, data)

    run()


def _fuzz_json_tree(seeds: dict[str, list[bytes]], workdir: Path, suffix: str, n: int):
    @_settings(n)
    @given(which=st.integers(0, 1),
           edits=st.lists(st.tuples(st.integers(0, 2**31), json_values, st.booleans()),
                          min_size=1, max_size=4))
    def run(which: int, edits: list[tuple]) -> None:
        _check_timeline(workdir, suffix, _mutate_json(seeds[suffix][which], edits))

    run()


def _fuzz_random(workdir: Path, suffix: str, n: int):
    @_settings(n)
    @given(data=st.one_of(st.binary(max_size=400),
                          st.text(max_size=400).map(lambda t: t.encode("utf-8", "replace")),
                          st.lists(snippets, max_size=40).map(
                              lambda parts: "".join(parts).encode("utf-8", "replace"))))
    def run(data: bytes) -> None:
        _check_timeline(workdir, suffix, data)

    run()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_mutated_timelines_end_cleanly(seeds, workdir, suffix):
    _fuzz_mutations(seeds, workdir, suffix, CI_EXAMPLES)


@pytest.mark.parametrize("suffix", [".otio", ".json"])
def test_mutated_json_trees_end_cleanly(seeds, workdir, suffix):
    _fuzz_json_tree(seeds, workdir, suffix, CI_EXAMPLES)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_random_files_end_cleanly(workdir, suffix):
    _fuzz_random(workdir, suffix, CI_EXAMPLES // 2)


@pytest.mark.fuzz_long
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_long_mutated_timelines(seeds, workdir, suffix):
    _fuzz_mutations(seeds, workdir, suffix, LONG_EXAMPLES)


@pytest.mark.fuzz_long
@pytest.mark.parametrize("suffix", [".otio", ".json"])
def test_long_mutated_json_trees(seeds, workdir, suffix):
    _fuzz_json_tree(seeds, workdir, suffix, LONG_EXAMPLES)


@pytest.mark.fuzz_long
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_long_random_files(workdir, suffix):
    _fuzz_random(workdir, suffix, LONG_EXAMPLES // 4)


# ---------------------------------------------------------------- manifests

MANIFEST = b"""\
# training projects
- video: film.mp4
  timeline: film.otio
  split: train
- {video: other.mp4, timeline: sub/other.edl, split: val, labels: labels.npy}
"""
yaml_tokens = st.sampled_from([
    "- ", ": ", "video", "timeline", "labels", "items", "videos", "projects", "~", "~root/x",
    "~nosuchuser_fuzz/x", "/", "..", "\x00", "!!python/object:os.system", "!!binary", "&a ",
    "*a", "<<: *a", "? [a, b]\n: c", "{", "}", "[", "]", "'", '"', "|", ">", "%YAML 1.1\n",
    "---\n", "...\n", "\n", "  ", "\t", "#", "null", "1e400", ".nan", "2024-01-01", "0x1F",
])


def _check_manifest(workdir: Path, suffix: str, data: bytes, check_files: bool) -> None:
    with tempfile.NamedTemporaryFile(dir=workdir, suffix=suffix, delete=False) as f:
        f.write(data)
    path = Path(f.name)
    try:
        _ends_cleanly(f"manifest{suffix}", path,
                      lambda: load_manifest(path, check_files=check_files))
    finally:
        path.unlink(missing_ok=True)


def _fuzz_manifests(workdir: Path, n: int):
    texts = st.one_of(
        st.lists(yaml_tokens | st.text(max_size=10), max_size=30).map("".join),
        json_values.map(json.dumps),
        st.lists(st.dictionaries(st.sampled_from(["video", "timeline", "labels", "split",
                                                  "pred", "truth"]),
                                 json_values | st.text(max_size=20), max_size=5),
                 max_size=4).map(json.dumps),
        st.text(max_size=200),
    )
    mutated = st.lists(ops, min_size=1, max_size=5).map(
        lambda edits: _apply(MANIFEST, edits))

    @_settings(n)
    @given(data=texts.map(lambda t: t.encode("utf-8", "replace")) | mutated | st.binary(),
           suffix=st.sampled_from([".yaml", ".yml", ".json"]), check_files=st.booleans())
    def run(data: bytes, suffix: str, check_files: bool) -> None:
        _check_manifest(workdir, suffix, data, check_files)

    run()


def _apply(data: bytes, edits: list[tuple]) -> bytes:
    for op in edits:
        data = _mutate(data, op)
    return data


def test_manifests_end_cleanly(workdir):
    _fuzz_manifests(workdir, CI_EXAMPLES * 3)


@pytest.mark.fuzz_long
def test_long_manifests(workdir):
    _fuzz_manifests(workdir, LONG_EXAMPLES * 2)


def test_seeds_are_valid(seeds, workdir):
    """The unmutated seeds read back to the four scenes (the fuzzing starts from valid input)."""
    for suffix in SUFFIXES:
        path = workdir / f"seed0{suffix}"
        timeline = read_timeline(path, rate=25)
        scenes = scenes_from_timeline(timeline, INFO, source=str(path))
        assert [(s.start, s.end) for s in scenes] == [(0, 60), (60, 150), (150, 290),
                                                       (290, 400)], suffix


# ---------------------------------------------------------------- what fuzzing found

_T = {"OTIO_SCHEMA": "Track.1", "kind": "Video", "children": []}
_ER = {"OTIO_SCHEMA": "ExternalReference.1", "target_url": "file:///x.mp4"}
# OTIO files that segfaulted OTIO's C++ reader (read_timeline now refuses them first)
SEGFAULTS = {
    "old Clip: media_references dropped": {"OTIO_SCHEMA": "Clip.1",
                                           "media_references": {"DEFAULT_MEDIA": _ER}},
    "old Clip: plain-dict media_reference": {"OTIO_SCHEMA": "Clip.-1",
                                             "media_reference": {"a": _T}},
    "old Clip: active key holds an object": {"OTIO_SCHEMA": "Clip. 1",
                                             "active_media_reference_key": [_T]},
    "old Marker: marked_range dropped": {"OTIO_SCHEMA": "Marker.0", "marked_range": _T,
                                         "range": None},
    "Timeline with null tracks": {"OTIO_SCHEMA": "SerializableCollection.1",
                                  "children": [{"OTIO_SCHEMA": "Timeline.1", "tracks": None}]},
}
_DEEP = "[" * 50_000 + "]" * 50_000
# OTIO keeps the first of two equal keys and frees the objects in the second
_DUPLICATE = '{"OTIO_SCHEMA": "Clip.2", "media_references": {}, "metadata": {}, ' \
    '"active_media_reference_key": "DEFAULT_MEDIA", "metadata": {"a": ' + json.dumps(_T) + "}}"

_CHILD = """
import sys
from pathlib import Path
from scenesem_otio.adapters.formats import read_timeline
from scenesem_otio.core.errors import TimelineError
for name in sys.argv[1:]:
    try:
        read_timeline(name)
        print("result", name)
    except TimelineError as err:
        print("error", err)
"""


def test_otio_segfaults_end_cleanly(workdir):
    """Each of these killed the process inside OTIO; run in a child so a regression reports."""
    import subprocess
    import sys

    paths = []
    texts = [json.dumps(v) for v in SEGFAULTS.values()] + [_DEEP, _DUPLICATE]
    for k, text in enumerate(texts):
        paths.append(workdir / f"segv{k}.otio")
        paths[-1].write_text(text)
    proc = subprocess.run([sys.executable, "-c", _CHILD, *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == len(paths) and all(line.startswith("error ") for line in lines), lines


@pytest.mark.parametrize("suffix,text", [
    (".json", '{"format": "scenesem-scenes", "clips": [{"start_frame": 0, "end_frame": 9, '
              '"metadata": null}]}'),
    (".json", '{"format": "scenesem-scenes", "clips": [{"start_frame": 0, "end_frame": 9, '
              '"metadata": {"n_shots": [1]}}]}'),
    (".json", '{"format": "scenesem-scenes", "clips": [{"start_frame": 0, "end_frame": 9, '
              '"metadata": {"shot": 0, "scene_start": "x"}}]}'),
    (".json", '{"format": "scenesem-scenes", "clips": [{"start_frame": 0, "end_frame": 9, '
              '"metadata": {"a\\u0000b": 1}}]}'),
])
def test_found_timeline_crashes_end_cleanly(workdir, suffix, text):
    _check_timeline(workdir, suffix, text.encode())


@pytest.mark.parametrize("text", [
    '[{"video": "a\\u0000b", "timeline": "t.otio"}]',
    '[{"video": "\\ud800", "timeline": "t.otio"}]',
    '[{"video": "~nosuchuser_fuzz/film.mp4", "timeline": "t.otio"}]',
    "[" * 5000,
])
@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_found_manifest_crashes_end_cleanly(workdir, suffix, text):
    for check_files in (False, True):
        _check_manifest(workdir, suffix, text.encode(), check_files)


def test_yaml_timestamp_bug_ends_cleanly(workdir):
    _check_manifest(workdir, ".yaml", b"- video: !!timestamp x\n  timeline: t.otio\n", True)
