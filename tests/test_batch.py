"""`scenesem batch`: many films, local worker processes or Ray actors, resumable (issue 27).

Real films, a real (tiny) model, real worker processes and a real local Ray with 2 CPUs,
shared by the Ray tests (starting Ray is the slow part).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from scenesem_otio.adapters.formats import read_timeline
from scenesem_otio.adapters.timeline import scenes_from_timeline
from scenesem_otio.batch.engines import Workers, size_workers
from scenesem_otio.batch.index import render_index
from scenesem_otio.batch.ledger import FilmRecord
from scenesem_otio.batch.plan import plan_films
from scenesem_otio.cli import main
from scenesem_otio.core.errors import ScenesemError
from scenesem_otio.media.probe import probe

BATCH = [sys.executable, "-m", "scenesem_otio", "batch"]
GOOD = ("a", "b", "c", "d")


def invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.output


def scene_ranges(timeline: Path, video: Path) -> list[tuple[int, int]]:
    info = probe(video)
    return [(s.start, s.end) for s in
            scenes_from_timeline(read_timeline(timeline, rate=info.fps), info)]


def ledger(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]


def truncate(src: Path, dst: Path) -> None:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 3])


def film_folder(root: Path, film: Path, names: tuple[str, ...]) -> Path:
    """Copies of `film` under `names` and one truncated copy, broken.mp4."""
    root.mkdir(parents=True)
    for name in names:
        shutil.copy(film, root / f"{name}.mp4")
    truncate(film, root / "broken.mp4")
    return root


@pytest.fixture(scope="module")
def films_dir(tmp_path_factory: pytest.TempPathFactory,
              scene_film: tuple[Path, list[int], list[int]]) -> Path:
    return film_folder(tmp_path_factory.mktemp("batch") / "films", scene_film[0], GOOD)


@pytest.fixture(scope="module")
def cut_reference(scene_film: tuple[Path, list[int], list[int]], tiny_videomae_dir: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, int]]:
    """The scenes `scenesem cut` finds in the film, with the options the batches use."""
    video = scene_film[0]
    out = tmp_path_factory.mktemp("cut") / "film.otio"
    code, text = invoke(["cut", str(video), "-o", str(out), "--model", str(tiny_videomae_dir),
                         "--min-scene", "0", "--no-progress"])
    assert code == 0, text
    return scene_ranges(out, video)


@pytest.fixture(scope="module")
def ray_address() -> str:
    """One local Ray with 2 CPUs for this module; batches in this process reuse it. Its
    workers run at the tests' priority: Ray nices them to 15 by default, and beside the other
    xdist worker's tests they got so little CPU that a batch wrote nothing in 300 s."""
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_worker_niceness", "0")  # Ray's spelling; the raylet reads it
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def test_plan_folders_lists_and_names(tmp_path: Path) -> None:
    for rel in ("arch/a/reel1.mov", "arch/b/reel1.mov", "arch/b/notes.txt",
                "arch/.hidden/x.mp4", "arch/out/old.mp4", "loose/reel1.mp4", "loose/index.mkv"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    listing = tmp_path / "films.txt"
    listing.write_text("# films to cut\nloose/reel1.mp4\n\nloose/index.mkv\n"
                       "missing.mp4\ns3://bucket/reel9.mxf\narch/a/reel1.mov\n")
    jobs = plan_films([str(tmp_path / "arch"), str(listing)], exclude=tmp_path / "arch/out")
    names = {j.name: j for j in jobs}
    assert set(names) >= {"a/reel1", "b/reel1", "missing", "reel9"}
    assert len(jobs) == 6  # arch/a/reel1.mov listed twice is cut once; out/ and .hidden skipped
    assert "reel1" in names  # loose/reel1.mp4; arch/a/reel1.mov is "a/reel1"
    index = [n for n in names if n.startswith("index")]
    assert index and index[0] != "index"  # index.html is the batch's own page
    assert names["reel9"].path is None and names["missing"].input_key == "missing"
    assert all(j.path is None or j.path.is_absolute() for j in jobs)
    with pytest.raises(ScenesemError, match="no such file or folder"):
        plan_films([str(tmp_path / "nowhere")])
    twins = plan_films([str(tmp_path / "loose/reel1.mp4"), str(tmp_path / "arch/a/reel1.mov")])
    assert len({j.name for j in twins}) == 2 and all(j.name.startswith("reel1-") for j in twins)


def test_workers_sized_to_cores_and_gpus() -> None:
    assert size_workers(2, 0) == Workers(1, 2, 0.0)  # this machine
    assert size_workers(16, 0) == Workers(8, 2, 0.0)
    assert size_workers(16, 1) == Workers(8, 2, 0.125)  # CPU decoders keep one GPU fed
    assert size_workers(8, 8) == Workers(8, 1, 1.0)
    assert size_workers(16, 2, count=2) == Workers(2, 8, 1.0)


def test_index_links_and_escapes() -> None:
    page = render_index([
        FilmRecord(film="a/<b>&c", input="/x/<b>&c.mp4", status="done", scenes=3, shots=9,
                   seconds=75.0, outputs=["a/<b>&c.otio", "a/<b>&c.html"]),
        FilmRecord(film="bad", input="/x/bad.mp4", status="failed",
                   error="/x/bad.mp4: <truncated> file")], "OUT")
    assert 'href="a/%3Cb%3E%26c.html"' in page and 'href="a/%3Cb%3E%26c.otio"' in page
    assert "a/&lt;b&gt;&amp;c" in page and "&lt;truncated&gt;" in page
    assert "<b>" not in page and "0:01:15" in page and "1 done, 1 failed" in page


def test_local_batch_equals_cut_skips_done_and_resumes_state(
        films_dir: Path, tiny_videomae_dir: Path, cut_reference: list[tuple[int, int]],
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["batch", str(films_dir), "-o", str(out), "--model", str(tiny_videomae_dir),
            "--min-scene", "0", "--format", "otio,edl", "--report", "--no-progress"]
    code, text = invoke(args)
    assert code == 1, text  # broken.mp4 failed
    assert "failed:" in text and "broken.mp4" in text and "truncated" in text
    expected = {f"{n}{ext}" for n in GOOD for ext in (".otio", ".edl", ".html")}
    written = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert written == expected | {"batch.jsonl", "index.html"}  # nothing for broken.mp4
    for name in GOOD:
        assert scene_ranges(out / f"{name}.otio", films_dir / f"{name}.mp4") == cut_reference
        assert scene_ranges(out / f"{name}.edl", films_dir / f"{name}.mp4") == cut_reference
    rows = {r["film"]: r for r in ledger(out)}
    assert set(rows) == {*GOOD, "broken"}
    assert rows["broken"]["status"] == "failed" and "broken.mp4" in rows["broken"]["error"]
    assert rows["a"]["status"] == "done" and rows["a"]["scenes"] == len(cut_reference)
    assert rows["a"]["model"] == str(tiny_videomae_dir) and rows["a"]["seconds"] > 0
    page = (out / "index.html").read_text()
    assert 'href="a.html"' in page and 'href="a.edl"' in page and "truncated" in page

    # An identical rerun redoes nothing: no engine, no output touched, still non-zero.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, text = invoke(args)
    assert code == 1 and "not started (nothing to do)" in text, text
    assert "broken.mp4" in text and "--retry-failed" in text
    assert {p: out.joinpath(p).stat().st_mtime_ns for p in expected} == \
        {p: stamps[p] for p in expected}
    assert ledger(out) == list(rows.values())

    # Leftovers of a kill (a torn ledger line, a temp file mid-rename) are swept; a changed
    # input is cut again, and only it.
    with open(out / "batch.jsonl", "a") as f:
        f.write('{"film": "c", "sta')
    (out / ".a.otio.k1x2y3.tmp.otio").write_text("{")
    time.sleep(0.01)
    (films_dir / "c.mp4").touch()
    code, text = invoke(args)
    assert code == 1 and "1 cut, 3 already done" in text, text
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".batch.lock"]
    assert len(ledger(out)) == 5 and {r["film"] for r in ledger(out)} == {*GOOD, "broken"}


def test_bad_model_stops_the_batch_with_one_line(films_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "not_a_model"
    empty.mkdir()
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["batch", str(films_dir / "a.mp4"), "-o", str(out),
                                       "--model", str(empty), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "error: cannot load the model" in result.output, result.output
    assert "Traceback" not in result.output
    assert not (out / "batch.jsonl").exists() or not (out / "batch.jsonl").read_text()


def test_bad_options_are_one_line(films_dir: Path, tmp_path: Path) -> None:
    code, text = invoke(["batch", str(films_dir), "-o", str(tmp_path / "o"), "--model",
                         "embedded", "--format", "otio,mp3", "--no-progress"])
    assert code == 1 and "unknown timeline format" in text, text
    code, text = invoke(["batch", str(tmp_path / "none"), "-o", str(tmp_path / "o"),
                         "--no-progress"])
    assert code == 1 and "no such file or folder" in text, text


def test_unreachable_ray_address_is_one_line_in_seconds(films_dir: Path, tmp_path: Path) -> None:
    """A cluster address nobody answers at: one line naming it, not minutes of Ray retrying
    (run in a fresh process: this module's own Ray session would otherwise be reused)."""
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for address, said in ((f"127.0.0.1:{port}", "no Ray cluster answers there"),
                          ("nowhere", "give HOST:PORT")):
        proc = subprocess.run([sys.executable, "-m", "scenesem_otio", "batch",
                               str(films_dir / "a.mp4"), "-o", str(tmp_path / "o"),
                               "--engine", "ray", "--ray-address", address, "--no-progress"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stderr
        assert f"error: --ray-address {address}: {said}" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_acceptance_ray_three_copies_of_test_mp4_and_a_truncated_file(
        test_mp4: Path, tiny_videomae_dir: Path, ray_address: str, tmp_path: Path) -> None:
    films = film_folder(tmp_path / "DIR", test_mp4, ("one", "two", "three"))
    ref = tmp_path / "cut.otio"
    code, text = invoke(["cut", str(test_mp4), "-o", str(ref), "--model",
                         str(tiny_videomae_dir), "--no-progress"])
    assert code == 0, text
    expected = scene_ranges(ref, test_mp4)
    out = tmp_path / "OUT"
    args = ["batch", str(films), "-o", str(out), "--engine", "ray", "--model",
            str(tiny_videomae_dir), "--no-progress"]
    code, text = invoke(args)
    assert code == 1, text
    assert "failed:" in text and "broken.mp4" in text
    assert "engine  ray:" in text
    for name in ("one", "two", "three"):
        assert scene_ranges(out / f"{name}.otio", films / f"{name}.mp4") == expected
    assert not list(out.glob("broken*"))
    first = ledger(out)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.otio")}
    code, text = invoke(args)  # a second identical run redoes nothing
    assert code == 1 and "0 cut" in text and "not started (nothing to do)" in text, text
    assert ledger(out) == first
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.otio")} == stamps


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "ray"])
def test_killed_batch_resumes_without_partial_or_duplicate_outputs(
        engine: str, films_dir: Path, tiny_videomae_dir: Path,
        cut_reference: list[tuple[int, int]], request: pytest.FixtureRequest,
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [str(films_dir), "-o", str(out), "--model", str(tiny_videomae_dir),
            "--min-scene", "0", "--no-progress", "--engine", engine]
    extra = ["--ray-address", request.getfixturevalue("ray_address")] if engine == "ray" else []
    proc = subprocess.Popen([*BATCH, *args, *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not list(out.glob("*.otio")):
        time.sleep(0.02)
    waited = round(time.time() - deadline + 300)
    if not list(out.glob("*.otio")) and proc.poll() is None:  # stuck: where? (faulthandler
        os.killpg(proc.pid, signal.SIGABRT)  # in the driver and its workers, on its stderr)
        time.sleep(2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker processes
    proc.wait()
    assert list(out.glob("*.otio")), (waited, proc.returncode,
                                      proc.stdout.read().decode()[-2000:],
                                      proc.stderr.read().decode()[-6000:])
    done_at_kill = {r["film"] for r in _readable(out) if r.get("status") == "done"}
    assert len(done_at_kill) < len(GOOD), done_at_kill  # the kill did interrupt the batch

    code, text = invoke(["batch", *args])  # resume (in this process's Ray for ray)
    assert code == 1, text
    assert f"{len(done_at_kill)} already done" in text, text
    rows = ledger(out)
    assert sorted(r["film"] for r in rows) == sorted([*GOOD, "broken"])  # one line each
    assert {r["film"] for r in rows if r["status"] == "done"} == set(GOOD)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([".batch.lock", "batch.jsonl", "index.html",
                            *(f"{n}.otio" for n in GOOD)])  # no temp file, nothing extra
    for name in GOOD:
        assert scene_ranges(out / f"{name}.otio", films_dir / f"{name}.mp4") == cut_reference


def _readable(out: Path) -> list[dict]:
    path = out / "batch.jsonl"
    rows = []
    for line in path.read_text().splitlines() if path.exists() else []:
        with contextlib.suppress(ValueError):  # the line a kill tore
            rows.append(json.loads(line))
    return rows
