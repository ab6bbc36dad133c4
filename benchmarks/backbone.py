"""Backbone throughput: videomae-base-sized model, clips/s by precision and batch size.

Usage:
    python benchmarks/backbone.py                 # CPU: fp32 and bf16 autocast, batch 1/4/8
    python benchmarks/backbone.py --device cuda   # GPU rows (bf16 and fp32)

Random weights (no hub): speed does not depend on them. bf16 pays off on CPUs with AMX or
AVX512-BF16 and on GPUs; on plain AVX2 CPUs it is emulated and slower (the table shows it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument("--clips", type=int, default=16, help="clips per measurement")
    parser.add_argument("--compile", action="store_true",
                        help="also time fp32 with the encoder under torch.compile")
    args = parser.parse_args()

    from transformers import VideoMAEConfig

    from scenesem_otio.model.backbone import VideoBackbone
    from scenesem_otio.model.embedder import SceneEmbedder, cpu_has_fast_bf16

    torch.manual_seed(0)
    embedder = SceneEmbedder(VideoBackbone.from_config(VideoMAEConfig())).to(args.device).eval()
    clips = np.random.default_rng(0).integers(0, 256, (args.clips, 16, 224, 224, 3), np.uint8)
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"fast CPU bf16 (AMX/AVX512-BF16): {cpu_has_fast_bf16()}")
    print(f"{'precision':<14}{'batch':>6}{'clips/s':>10}{'s/clip':>9}{'peak GPU MB':>13}")
    variants = [("fp32", None, False), ("bf16", torch.bfloat16, False)]
    if args.compile:
        variants.append(("fp32+compile", None, True))
    for name, dtype, compiled in variants:
        embedder.autocast_dtype = dtype
        if compiled:
            # torch.compile the encoder (inductor); the first call below pays compile time.
            embedder.backbone.encoder = torch.compile(embedder.backbone.encoder, dynamic=False)
            start = time.perf_counter()
            embedder.embed(clips[:1], batch_size=1)
            print(f"{'':<14}torch.compile first call {time.perf_counter() - start:.1f} s")
        for batch in (int(b) for b in args.batches.split(",")):
            embedder.embed(clips[:batch], batch_size=batch)  # warm-up
            if args.device == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            embedder.embed(clips, batch_size=batch)
            if args.device == "cuda":
                torch.cuda.synchronize()
            wall = time.perf_counter() - start
            mem = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else 0
            print(f"{name:<14}{batch:>6}{args.clips / wall:>10.2f}{wall / args.clips:>9.3f}"
                  f"{mem:>13.0f}")


if __name__ == "__main__":
    main()
