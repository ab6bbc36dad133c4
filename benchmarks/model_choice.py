"""How long `--model auto` takes to decide (issue 17 promises under 3 s, dead network included).

Usage:
    python benchmarks/model_choice.py

Times `choose_model` with an empty Hugging Face cache of its own in four situations: the hub
switched off, VideoMAE-base cached, a hub port that refuses connections, and a hub that accepts
connections but never answers (the 2 s timeout). The tests check which way each decision goes
and that none hangs; the seconds live here, where a loaded machine cannot fail a test.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

from scenesem_otio.model.choose import HUB_TIMEOUT_S, VIDEOMAE, choose_model


def cache_videomae(cache: Path) -> None:
    """config.json and weights laid out as huggingface_hub stores a download."""
    repo = cache / f"models--{VIDEOMAE.replace('/', '--')}"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in ("config.json", "pytorch_model.bin"):
        (snapshot / name).write_text("{}")


def timed(label: str) -> None:
    start = time.perf_counter()
    name, reason = choose_model(None)
    print(f"{label:<26}{time.perf_counter() - start:>7.2f} s  {name}: {reason}")


def main() -> None:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as closed, \
            socket.socket() as silent:
        os.environ["HF_HUB_CACHE"] = str(Path(tmp) / "hub")
        print(f"hub timeout {HUB_TIMEOUT_S:g} s; the promise is under 3 s in every row")
        os.environ["HF_HUB_OFFLINE"] = "1"
        timed("hub off (+ first import)")
        del os.environ["HF_HUB_OFFLINE"]

        closed.bind(("127.0.0.1", 0))  # bound, not listening: connection refused
        os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{closed.getsockname()[1]}"
        timed("hub refuses connections")

        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts into the backlog, never answers
        os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{silent.getsockname()[1]}"
        timed("hub never answers")

        cache_videomae(Path(tmp) / "hub")
        timed("VideoMAE-base cached")


if __name__ == "__main__":
    main()
