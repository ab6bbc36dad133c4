"""`--model auto`: VideoMAE-base when cached or the hub answers quickly, else the embedded
model; forced choices pass through; offline or cached decisions never touch the network, and a
hub that never answers is given up after the timeout (issue 17). No wall-clock asserts: the
checks are which requests were made and which way the decision went."""

from __future__ import annotations

import concurrent.futures
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenesem_otio.model.choose import EMBEDDED, VIDEOMAE, choose_model

HANG_GUARD_S = 60  # a decision that has not returned by then hangs; not a speed claim


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache of our own, hub on; returns the cache folder."""
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    return cache


def _decide(spec: str | None = None, **kwargs: float) -> tuple[str, str]:
    """choose_model in a thread: a decision that blocks fails the test instead of hanging it."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(choose_model, spec, **kwargs).result(timeout=HANG_GUARD_S)


def _cache_model(cache: Path, repo_id: str, files: tuple[str, ...]) -> None:
    """Files laid out as huggingface_hub stores a download (refs/main -> snapshot)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in files:
        (snapshot / name).write_text("{}")


@pytest.fixture
def local_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A real HTTP server on localhost as HF_ENDPOINT; yields the paths it was asked for."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            asked.append(self.path)
            self.send_response(200 if self.path.startswith(f"/{VIDEOMAE}/") else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield asked
    server.shutdown()
    server.server_close()


def test_offline_chooses_embedded_without_asking_the_hub(
        hub_env: Path, local_hub: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name, reason = _decide(None)
    assert name == EMBEDDED
    assert reason.startswith("embedded EfficientNet-Lite0: ") and "HF_HUB_OFFLINE" in reason
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "true")
    assert _decide("auto")[0] == EMBEDDED
    assert local_hub == []  # the hub (which would answer 200) was never asked


def test_cached_videomae_wins_even_offline(hub_env: Path, local_hub: list[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _cache_model(hub_env, VIDEOMAE, ("config.json",))  # config without weights: not usable
    assert _decide(None)[0] == EMBEDDED
    (next((hub_env / f"models--{VIDEOMAE.replace('/', '--')}" / "snapshots").iterdir())
     / "pytorch_model.bin").write_text("")
    assert _decide(None) == (VIDEOMAE, f"{VIDEOMAE}: found in the local Hugging Face cache")
    monkeypatch.delenv("HF_HUB_OFFLINE")  # hub on: the cache still answers first
    assert _decide(None)[0] == VIDEOMAE
    assert local_hub == []


def test_hub_that_answers_gets_videomae(hub_env: Path, local_hub: list[str]) -> None:
    name, reason = _decide(None)
    assert name == VIDEOMAE and "HTTP 200" in reason
    assert local_hub == [f"/{VIDEOMAE}/resolve/main/config.json"]


def test_unreachable_or_silent_hub_falls_back(
        hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:  # a port nobody listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    name, reason = _decide(None)
    assert name == EMBEDDED and "hub unreachable" in reason and "within" not in reason

    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        # A short timeout keeps the test quick; the default is the one the CLI uses.
        name, reason = _decide(None, timeout_s=0.25)
    assert name == EMBEDDED
    assert "hub unreachable" in reason and "within 0.25 s" in reason


def test_hub_without_the_model_falls_back(hub_env: Path, local_hub: list[str]) -> None:
    name, reason = choose_model(None, hub_model="nobody/no-such-model")
    assert name == EMBEDDED and "does not serve nobody/no-such-model (HTTP 404" in reason


def test_forced_choices_pass_through(hub_env: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # must not be asked
    assert choose_model("embedded") == (EMBEDDED, "embedded EfficientNet-Lite0: asked for "
                                                  "with --model embedded")
    assert choose_model(str(tmp_path)) == (str(tmp_path), f"{tmp_path}: local model "
                                                          "directory (--model)")
    assert choose_model("MCG-NJU/videomae-large")[0] == "MCG-NJU/videomae-large"
