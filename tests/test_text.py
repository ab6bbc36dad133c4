"""Text world model: the real offline MiniLM, the mean-pool HF backend, an HTTP endpoint."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from scenesem_otio.core.errors import CheckpointError
from scenesem_otio.model.text import (
    CachedTextEncoder,
    HTTPTextEncoder,
    default_text_model,
    make_text_encoder,
)

TEXTS = ["Two friends share breakfast in a sunny kitchen.",
         "A couple eats a morning meal at the kitchen table.",
         "A storm wrecks the boats in the harbour at night."]


def test_minilm_default_is_offline_and_semantic(text_model_path: Path, tmp_path: Path) -> None:
    assert default_text_model() == str(text_model_path)
    enc = make_text_encoder(None, cache_dir=tmp_path)
    t = enc.encode(TEXTS)
    assert t.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    assert t[0] @ t[1] > t[0] @ t[2] + 0.2
    # Cached on disk by (model, text): a fresh encoder answers from the cache.
    again = make_text_encoder(None, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.encode(TEXTS), t)
    assert again.hits == 3 and again.misses == 0
    assert len(list(tmp_path.rglob("*.npy"))) == 3


@pytest.mark.parametrize("backend", ["st", "hf"])
def test_a_text_embeds_the_same_whatever_its_batch(backend: str, text_model_path: Path,
                                                   tmp_path: Path) -> None:
    """Padded batches shift a vector by ~1e-7 with its batch-mates; ours must not move at all,
    or the same training run differs with what the cache already held."""
    spec = str(text_model_path) if backend == "st" else f"hf:{text_model_path}"
    enc = make_text_encoder(spec, cache_dir=tmp_path).inner  # the model itself, no cache
    long = "Night. " + "A quiet street with lamps, rain, cars and people walking home. " * 3
    together = enc.encode([*TEXTS, long])
    alone = np.stack([enc.encode([t])[0] for t in [*TEXTS, long]])
    np.testing.assert_array_equal(together, alone)


def test_cache_misses_when_the_model_is_replaced_in_place(text_model_path: Path,
                                                          tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    model = tmp_path / "model"
    shutil.copytree(text_model_path, model)
    first = make_text_encoder(str(model), cache_dir=tmp_path / "cache").encode(TEXTS[:1])
    assert make_text_encoder(str(model), cache_dir=tmp_path / "cache").encode(TEXTS[:1]) \
        .tobytes() == first.tobytes()
    # Fine-tuned and saved over the same folder: the old vectors must not be served.
    weights = load_file(str(model / "model.safetensors"))
    name = next(k for k in weights if k.endswith("pooler.dense.weight") or "layer.5" in k)
    weights[name] = weights[name] * 1.5
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    enc = make_text_encoder(str(model), cache_dir=tmp_path / "cache")
    again = enc.encode(TEXTS[:1])
    assert enc.misses == 1 and enc.hits == 0
    assert not np.allclose(again, first, atol=1e-4)


def test_hf_mean_pool_backend(text_model_path: Path, tmp_path: Path) -> None:
    enc = make_text_encoder(f"hf:{text_model_path}", cache_dir=tmp_path)
    t = enc.encode(TEXTS)
    assert enc.name.startswith("hf:")
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    assert t[0] @ t[1] > t[0] @ t[2]
    # MiniLM's own pooling is mean pooling: same vectors as the sentence-transformers path.
    st = make_text_encoder(str(text_model_path), cache_dir=tmp_path / "st").encode(TEXTS)
    np.testing.assert_allclose(t, st, atol=1e-4)


class _Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.requests.append({"path": self.path, "body": body,
                                  "auth": self.headers.get("Authorization")})
        if body["input"] == ["fail"]:
            self.send_response(500)
            self.end_headers()
            return
        data = [{"index": i, "embedding": [float(len(x)), 1.0, float(i)]}
                for i, x in enumerate(body["input"])]
        payload = json.dumps({"data": data[::-1], "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> str:
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_openai_compatible_endpoint(server: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    enc = make_text_encoder(server, cache_dir=tmp_path)
    t = enc.encode(["ab", "abcd"])
    req = _Handler.requests[-1]
    assert req["path"] == "/v1/embeddings" and req["auth"] == "Bearer sk-test"
    assert req["body"]["input"] == ["ab", "abcd"]
    expected = np.array([[2, 1, 0], [4, 1, 1]], np.float32)  # order restored by index
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(t, expected, atol=1e-6)
    with pytest.raises(CheckpointError, match="embeddings endpoint"):
        CachedTextEncoder(HTTPTextEncoder(server), None).encode(["fail"])


def test_unreachable_endpoint_is_one_line() -> None:
    with pytest.raises(CheckpointError, match=r"127\.0\.0\.1:9"):
        HTTPTextEncoder("http://127.0.0.1:9", timeout=2).encode(["x"])
