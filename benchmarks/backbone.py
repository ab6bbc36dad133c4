"""Backbone throughput: videomae-base-sized model, clips/s by keep, batch, threads and precision.

Usage:
    python benchmarks/backbone.py                 # CPU table (see ROWS_CPU), one child per
                                                  # thread setting, ratios from the same run
    python benchmarks/backbone.py --device cuda   # GPU rows: bf16 at batch 16/64, keep 1 and
                                                  # the default keep, one fp32 row
    python benchmarks/backbone.py --clips 16 --compile   # more clips per row; + torch.compile

Random weights (no hub): speed does not depend on them. Every row embeds the same uint8 clips
through `SceneEmbedder.embed` (preprocessing included, as `cut` runs it). Thread rows run in
child processes because torch's inter-op pool cannot be resized once used. bf16 pays off on
CPUs with AMX or AVX512-BF16 and on GPUs; on plain AVX2 CPUs it is emulated and slower.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Row:
    keep: float
    batch: int
    precision: str = "fp32"  # or "bf16" (autocast)
    channels_last: bool = False  # patch Conv3d weight and input in channels_last_3d
    compiled: bool = False  # encoder under torch.compile (first call timed apart)
    threads: int = 0  # torch.set_num_threads; 0: torch's default (all cores)
    interop: int = 0  # torch.set_num_interop_threads; 0: torch's default


def cpu_rows(default_keep: float, cores: int, compile_: bool) -> list[Row]:
    rows = [Row(k, 8) for k in (1.0, 0.75, 0.5, 0.25)]
    rows += [Row(default_keep, b) for b in (1, 4, 16)]
    rows += [Row(default_keep, 8, precision="bf16"), Row(default_keep, 8, channels_last=True)]
    rows += [Row(default_keep, 8, threads=cores, interop=1)]
    if cores > 1:
        rows += [Row(default_keep, 8, threads=1, interop=1),
                 Row(default_keep, 8, threads=max(1, cores // 2), interop=2)]
    if compile_:
        rows += [Row(1.0, 8, compiled=True), Row(default_keep, 8, compiled=True)]
    return rows


def gpu_rows(default_keep: float) -> list[Row]:
    rows = [Row(k, b, precision="bf16") for k in (1.0, default_keep) for b in (16, 64)]
    return [*rows, Row(1.0, 16, precision="fp32")]


def measure(rows: list[Row], device: str, n_clips: int) -> list[dict]:
    """Time `rows` (all with the same thread settings) in this process."""
    import numpy as np
    import torch
    from transformers import VideoMAEConfig

    from scenesem_otio.model.backbone import VideoBackbone
    from scenesem_otio.model.embedder import SceneEmbedder

    if rows[0].threads:
        torch.set_num_threads(rows[0].threads)
    if rows[0].interop:
        torch.set_num_interop_threads(rows[0].interop)
    torch.manual_seed(0)
    embedder = SceneEmbedder(VideoBackbone.from_config(VideoMAEConfig())).to(device).eval()
    eager_encoder = embedder.backbone.encoder
    clips = np.random.default_rng(0).integers(0, 256, (n_clips, 16, 224, 224, 3), np.uint8)
    out = []
    for row in rows:
        backbone = embedder.backbone
        backbone.set_keep(row.keep)
        embedder.autocast_dtype = torch.bfloat16 if row.precision == "bf16" else None
        conv = eager_encoder.embeddings.patch_embeddings.projection
        fmt = torch.channels_last_3d if row.channels_last else torch.contiguous_format
        conv.to(memory_format=fmt)
        backbone.encoder = eager_encoder
        compile_s = None
        if row.compiled:
            backbone.encoder = torch.compile(eager_encoder, dynamic=False)
            start = time.perf_counter()
            embedder.embed(clips[:row.batch], batch_size=row.batch)
            compile_s = time.perf_counter() - start
        embedder.embed(clips[:row.batch], batch_size=row.batch)  # warm-up
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        embedder.embed(clips, batch_size=row.batch)
        if device == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
        mem = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0.0
        out.append({**asdict(row), "tokens": backbone.n_tokens, "clips_per_s": n_clips / wall,
                    "peak_gpu_mb": mem, "compile_s": compile_s,
                    "threads_used": torch.get_num_threads(),
                    "interop_used": torch.get_num_interop_threads()})
        print(json.dumps(out[-1]), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clips", type=int, default=8, help="clips per measurement")
    parser.add_argument("--compile", action="store_true",
                        help="also time the encoder under torch.compile")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one thread setting, run by the parent
        measure([Row(**r) for r in json.loads(args.child)], args.device, args.clips)
        return

    import torch

    from scenesem_otio.core.config import DEFAULT_KEEP
    from scenesem_otio.model.precision import cpu_has_fast_bf16

    cores = os.cpu_count() or 1
    rows = (gpu_rows(DEFAULT_KEEP) if args.device == "cuda"
            else cpu_rows(DEFAULT_KEEP, cores, args.compile))
    groups: dict[tuple[int, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.threads, row.interop), []).append(row)
    results = []
    for group in groups.values():
        proc = subprocess.run([sys.executable, __file__, "--device", args.device, "--clips",
                               str(args.clips), "--child",
                               json.dumps([asdict(r) for r in group])],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
        results += [json.loads(line) for line in proc.stdout.splitlines()
                    if line.startswith("{")]
    name = (torch.cuda.get_device_name(0) if args.device == "cuda" and torch.cuda.is_available()
            else cpu_name())
    print(f"\ndevice {args.device} ({name}), {cores} cores, torch {torch.__version__}, "
          f"fast CPU bf16 (AMX/AVX512-BF16): {cpu_has_fast_bf16()}, {args.clips} clips per row")
    ref = next((r["clips_per_s"] for r in results if r["keep"] == 1.0 and r["batch"] == 8
                and r["precision"] == "fp32" and not r["threads"]), None)
    print(f"{'keep':>5}{'tokens':>7}{'batch':>6}{'precision':>10}{'layout':>14}{'threads':>8}"
          f"{'interop':>8}{'clips/s':>9}{'÷ keep 1':>9}{'GPU MB':>8}")
    for r in results:
        layout = ("compiled" if r["compiled"] else
                  "channels-last" if r["channels_last"] else "contiguous")
        ratio = f"{r['clips_per_s'] / ref:8.2f}x" if ref else f"{'-':>9}"
        print(f"{r['keep']:>5g}{r['tokens']:>7}{r['batch']:>6}{r['precision']:>10}{layout:>14}"
              f"{r['threads_used']:>8}{r['interop_used']:>8}{r['clips_per_s']:>9.2f}{ratio}"
              f"{r['peak_gpu_mb']:>8.0f}")
        if r["compile_s"]:
            print(f"{'':>5}torch.compile first call {r['compile_s']:.1f} s")


def cpu_name() -> str:
    from scenesem_otio.model.precision import cpu_name as name

    return name()


if __name__ == "__main__":
    main()
