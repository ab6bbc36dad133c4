"""Text world model: the real offline MiniLM, the mean-pool HF backend, an HTTP endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from scenesem_otio.errors import CheckpointError
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
