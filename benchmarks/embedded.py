"""Embedded backbone throughput: EfficientNet-Lite0 keyframes/s on this machine, fp32.

Usage:
    python benchmarks/embedded.py                    # batch 8 and 32 keyframes, both variants
    python benchmarks/embedded.py --batches 8,32,64

Rows: the default (stage-4 part + colour histogram; the network stops after block 7) and
`deep` (the whole network and its 1280-d head as well). Prints CPU time beside wall time:
on a shared machine keyframes per CPU-second moves less than wall-clock rates.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="8,32", help="keyframes per forward pass")
    parser.add_argument("--keyframes", type=int, default=96, help="keyframes per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="best of N measurements")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads (0: torch's default, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from scenesem_otio.model.efficientnet import ImageBackbone

    variants = {"default (mid+colour)": None, "deep (+1280-d head)":
                {"mid": 1.0, "deep": 0.5, "colour": 0.5}}
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.keyframes, 1, 224, 224, 3), np.uint8)
    print(f"{cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}, fp32")
    print(f"{'variant':<24}{'batch':>6}{'keyframes/s':>13}{'per CPU-s':>11}{'ms/keyframe':>13}")
    for name, parts in variants.items():
        backbone = ImageBackbone.pretrained(parts=parts)
        for batch in (int(b) for b in args.batches.split(",")):
            best_wall, best_cpu = float("inf"), float("inf")
            with torch.inference_mode():
                backbone(backbone.preprocess(frames[:batch]))  # warm-up: oneDNN primitives
                for _ in range(args.repeats):
                    wall, cpu = time.perf_counter(), time.process_time()
                    for i in range(0, len(frames), batch):
                        backbone(backbone.preprocess(frames[i : i + batch]))
                    best_wall = min(best_wall, time.perf_counter() - wall)
                    best_cpu = min(best_cpu, time.process_time() - cpu)
            n = len(frames)
            print(f"{name:<24}{batch:>6}{n / best_wall:>13.1f}{n / best_cpu:>11.1f}"
                  f"{1000 * best_wall / n:>13.1f}")


if __name__ == "__main__":
    main()
