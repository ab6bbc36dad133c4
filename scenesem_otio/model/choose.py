"""Model stage 0: `--model auto` picks the backbone before any work starts (SPEC §2.4).

VideoMAE-base when it is in the local Hugging Face cache or the hub answers within ~2 s,
otherwise the embedded EfficientNet-Lite0 that installs with the package. Never waits on
hub retries: the whole decision takes under 3 s even with a dead network.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

AUTO = "auto"
EMBEDDED = "embedded"
VIDEOMAE = "MCG-NJU/videomae-base"  # the seed's backbone (same as config.DEFAULT_MODEL)
HUB_TIMEOUT_S = 2.0
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_TRUE = {"1", "on", "yes", "true"}


def choose_model(spec: str | os.PathLike | None = None, hub_model: str = VIDEOMAE,
                 timeout_s: float = HUB_TIMEOUT_S) -> tuple[str, str]:
    """`--model` value -> (model to load, one line saying which model and why).

    The model is `"embedded"`, a hub id or a directory. `None`/`"auto"` decides as above;
    `"embedded"`, a hub id or a directory force the choice (loading reports their errors).
    """
    text = str(spec) if spec is not None else AUTO
    if text.lower() == EMBEDDED:
        return EMBEDDED, "embedded EfficientNet-Lite0: asked for with --model embedded"
    if text.lower() != AUTO:
        if Path(text).expanduser().is_dir():
            return text, f"{text}: local model directory (--model)"
        return text, f"{text}: asked for with --model"
    if hub_cached(hub_model):
        return hub_model, f"{hub_model}: found in the local Hugging Face cache"
    if hub_offline():
        return EMBEDDED, (f"embedded EfficientNet-Lite0: {hub_model} is not cached and the hub "
                          "is off (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE)")
    status, detail = hub_answers(hub_model, timeout_s)
    if status == "ok":
        return hub_model, f"{hub_model}: the Hugging Face hub answered ({detail})"
    if status == "refused":
        return EMBEDDED, (f"embedded EfficientNet-Lite0: the hub does not serve {hub_model} "
                          f"({detail})")
    return EMBEDDED, f"embedded EfficientNet-Lite0: hub unreachable ({detail})"


def hub_offline() -> bool:
    """HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE set to a true value (read now, not at import)."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE
               for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_cache_dir() -> Path:
    """The hub cache huggingface_hub would use, from the environment as it is now."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.environ[name]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "huggingface" / "hub"


def hub_cached(repo_id: str) -> bool:
    """config.json and a weights file of `repo_id` are in the local cache (no network)."""
    from huggingface_hub import try_to_load_from_cache

    cache = hub_cache_dir()

    def cached(filename: str) -> bool:
        try:
            found = try_to_load_from_cache(repo_id, filename, cache_dir=cache)
        except Exception:  # malformed repo id or cache: treat as not cached
            return False
        return isinstance(found, str) and Path(found).is_file()

    return cached("config.json") and any(cached(name) for name in WEIGHT_FILES)


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def hub_answers(repo_id: str, timeout_s: float = HUB_TIMEOUT_S) -> tuple[str, str]:
    """One HEAD request for the model's config.json -> ("ok" | "refused" | "unreachable",
    short detail); "refused" is an HTTP status >= 400.

    Runs in a daemon thread joined for `timeout_s`, because urllib's timeout does not cover
    DNS resolution, which can hang far longer on a machine without network.
    """
    url = f"{hub_endpoint()}/{repo_id}/resolve/main/config.json"
    result: list[tuple[str, str]] = []
    silent = f"no answer from {hub_endpoint()} within {timeout_s:g} s"

    def probe() -> None:
        start = time.monotonic()
        request = urllib.request.Request(url, method="HEAD",
                                         headers={"User-Agent": "scenesem-model-auto"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                status = response.status
        except urllib.error.HTTPError as err:
            status = err.code
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, TimeoutError):
                result.append(("unreachable", silent))
            else:
                result.append(("unreachable", f"{type(reason).__name__}: {reason}"[:120]))
            return
        took = f"HTTP {status} in {time.monotonic() - start:.1f} s"
        result.append(("ok" if status < 400 else "refused", took))

    thread = threading.Thread(target=probe, name="scenesem-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not result:
        return "unreachable", silent
    return result[0]
