"""Speed levers vs scenes (issue 16): visible-token fraction `keep` and the clip budget per shot.

Usage:
    python benchmarks/agreement.py FILM.mp4 [FILM.mp4 …]            # videomae-base-sized, random
    python benchmarks/agreement.py synth/*.mp4 ~/.cache/scenesem-tests/test.mp4 --model DIR
    python benchmarks/agreement.py films… --keeps 1,0.5 --caps 0,2 --batch 8

For every film: shots once (PySceneDetect, as `cut`), every clip any cap needs decoded once, then
each clip embedded at each keep (timed in this run, so the ratios hold on a shared machine).
Each (keep, cap) gives shot embeddings (mean of their clips, SPEC §2.5) and scenes (segment(),
as `cut` without a checkpoint); the reference is keep 1 with no cap. Columns: backbone clips/s
and speed-up, cosine between the shot embeddings and the reference's (mean and worst shot),
and boundary F1 of the scenes against the reference's scenes (evaluate.boundary_prf, ±0.5 s),
as `cut` decodes them (8 s minimum scene) and with no minimum scene (every local maximum above
θ is a cut: many more boundaries, a far more sensitive check).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def film_rows(path: Path, embedder, keeps: list[float], caps: list[int], batch: int,
              seconds: float | None = None) -> list[dict]:
    """One row per (keep, cap) for one film."""
    from scenesem_otio.core.config import SamplingOptions, SegmentOptions
    from scenesem_otio.core.scenes import shots_from_cuts
    from scenesem_otio.core.vectors import shot_embeddings
    from scenesem_otio.evaluate.metrics import boundary_prf
    from scenesem_otio.media.probe import probe
    from scenesem_otio.media.sampling import iter_clips, plan_clips
    from scenesem_otio.media.shots import detect_shots
    from scenesem_otio.segment.decide import segment

    info = probe(path)
    fps = float(info.fps)
    shots = shots_from_cuts(detect_shots(info.path, progress=False), info.n_frames)
    if seconds is not None:  # the film's first `seconds`, whole shots only
        shots = [s for s in shots if s.end <= seconds * fps] or shots[:1]
    backbone = embedder.backbone
    plans = {}
    for cap in caps:
        sampling = SamplingOptions(num_frames=backbone.num_frames,
                                   image_size=backbone.image_size,
                                   max_clips_per_shot=cap or None)
        plans[cap] = plan_clips(shots, info.fps, sampling)
    distinct = sorted({(p.shot, p.frames) for ps in plans.values() for p in ps})
    index = {key: i for i, key in enumerate(distinct)}
    pixels = np.zeros((len(distinct), backbone.num_frames, backbone.image_size,
                       backbone.image_size, 3), np.uint8)
    for c, clip in iter_clips(info.path, [f for _, f in distinct], backbone.image_size):
        pixels[c] = clip
    vectors, rates = {}, {}
    for keep in keeps:
        backbone.set_keep(keep)
        embedder.embed(pixels[:1], batch_size=1)  # warm-up at this sequence length
        start = time.perf_counter()
        vectors[keep] = embedder.embed(pixels, batch_size=batch)
        rates[keep] = len(pixels) / (time.perf_counter() - start)
        print(f"  {path.name}: keep {keep:g}, {len(pixels)} clips, {rates[keep]:.3f} clips/s",
              file=sys.stderr, flush=True)

    def scenes_of(keep: float, cap: int) -> tuple[np.ndarray, list[float], list[float]]:
        """Shot embeddings, scene cuts as `cut` decodes them, and with no minimum scene
        length (every local maximum above θ is a cut: many more boundaries, so a far more
        sensitive check than the default 8 s decoding)."""
        rows = [index[(p.shot, p.frames)] for p in plans[cap]]
        emb = shot_embeddings(vectors[keep][rows], [p.shot for p in plans[cap]], len(shots))
        bounds = [[s.start / fps for s in segment(shots, emb, fps, options)[0][1:]]
                  for options in (SegmentOptions(), SegmentOptions(min_scene_s=0.0))]
        return emb, bounds[0], bounds[1]

    ref_emb, ref_bounds, ref_dense = scenes_of(keeps[0], caps[0])
    out = []
    for keep in keeps:
        for cap in caps:
            emb, bounds, dense = scenes_of(keep, cap)
            cos = np.sum(emb * ref_emb, axis=1)
            out.append({"film": path.name, "keep": keep, "cap": cap, "clips": len(plans[cap]),
                        "shots": len(shots), "clips_per_s": rates[keep],
                        "cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
                        "f1": boundary_prf(bounds, ref_bounds)["f1"],
                        "f1_dense": boundary_prf(dense, ref_dense)["f1"],
                        "scenes": len(bounds) + 1, "ref_scenes": len(ref_bounds) + 1,
                        "dense_scenes": len(dense) + 1})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("films", nargs="+", type=Path)
    parser.add_argument("--model", default=None,
                        help="model dir (default: a random videomae-base-sized backbone)")
    parser.add_argument("--keeps", default="1,0.75,0.5,0.25")
    parser.add_argument("--caps", default="0,1,2,3", help="clip budgets per shot; 0 = no cap")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=None,
                        help="use only each film's first SECONDS (whole shots)")
    args = parser.parse_args()
    keeps = [float(k) for k in args.keeps.split(",")]
    caps = [int(c) for c in args.caps.split(",")]
    if keeps[0] != 1.0 or caps[0] != 0:
        sys.exit("the first keep must be 1 and the first cap 0 (the reference)")

    import torch
    from transformers import VideoMAEConfig

    from scenesem_otio.model.backbone import VideoBackbone
    from scenesem_otio.model.checkpoint import load_embedder
    from scenesem_otio.model.embedder import SceneEmbedder

    if args.model:
        embedder = load_embedder(args.model, device="cpu", precision="fp32")
        name = args.model
    else:
        torch.manual_seed(0)
        embedder = SceneEmbedder(VideoBackbone.from_config(VideoMAEConfig())).eval()
        name = "videomae-base-sized, random weights (seed 0)"
    print(f"model: {name}; torch threads {torch.get_num_threads()}, fp32, batch {args.batch}"
          + (f"; first {args.seconds:g} s of each film" if args.seconds else ""), flush=True)
    rows: list[dict] = []
    for film in args.films:
        rows += film_rows(film, embedder, keeps, caps, args.batch, args.seconds)
        print_table([r for r in rows if r["film"] == film.name], film.name)
    print_table(rows, "all films", overall=True)


def print_table(rows: list[dict], title: str, overall: bool = False) -> None:
    """keep × cap table; `overall` pools clips/s by time and averages cosine and F1 by film."""
    keeps = sorted({r["keep"] for r in rows}, reverse=True)
    caps = sorted({r["cap"] for r in rows})
    print(f"\n{title}")
    print(f"{'keep':>5} {'cap':>4} {'clips':>6} {'clips/s':>8} {'speed-up':>9} {'cos mean':>9} "
          f"{'cos min':>8} {'F1 vs full':>11} {'scenes':>7} {'F1, min 0 s':>12} {'scenes':>7}")
    base = None
    for keep in keeps:
        for cap in caps:
            sel = [r for r in rows if r["keep"] == keep and r["cap"] == cap]
            clips = sum(r["clips"] for r in sel)
            seconds = sum(r["clips"] / r["clips_per_s"] for r in sel)
            rate = clips / seconds
            if base is None:
                base = seconds
            f1 = float(np.mean([r["f1"] for r in sel]))
            scenes = sum(r["scenes"] for r in sel)
            dense = float(np.mean([r["f1_dense"] for r in sel]))
            print(f"{keep:>5g} {cap or '-':>4} {clips:>6} {rate:>8.2f} {base / seconds:>8.2f}x "
                  f"{np.mean([r['cos_mean'] for r in sel]):>9.4f} "
                  f"{min(r['cos_min'] for r in sel):>8.4f} {f1:>11.3f} {scenes:>7} "
                  f"{dense:>12.3f} {sum(r['dense_scenes'] for r in sel):>7}", flush=True)


if __name__ == "__main__":
    main()
