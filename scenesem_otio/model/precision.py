"""Where the model runs and in what precision: the one home of the bf16 decision.

Inference (`load_embedder`) and training (`train.trainer`) both ask `resolve_dtype`, so a model
is trained and used under the same rule on the same machine.
"""

from __future__ import annotations

from pathlib import Path

import torch

from scenesem_otio.core.errors import CheckpointError


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise CheckpointError("--device cuda: no CUDA device is available (use --device cpu)")
    return torch.device(device)


def cpu_name() -> str:
    """The CPU's model name, for benchmark tables (CPUs differ between machines)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown CPU"
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else "unknown CPU"


def cpu_has_fast_bf16() -> bool:
    """AMX or AVX512-BF16: where bf16 autocast is faster than fp32 on the CPU."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype, or None for plain fp32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_has_fast_bf16() else None
