"""End-to-end speed and memory: `scenesem cut` vs PySceneDetect on the same film, in one run.

Usage:
    python benchmarks/pipeline.py                       # makes a 10-minute 1080p film
    python benchmarks/pipeline.py --minutes 60          # a 60-minute one (RSS flatness check)
    python benchmarks/pipeline.py --before --stages     # + the unoptimised two-decode cut
    python benchmarks/pipeline.py --video film.mp4 --model ./ckpt
    python benchmarks/pipeline.py --reference           # + keep 1, no clip cap (scenes compared)

Each row runs in its own child process so that its peak RSS (from wait4) is its own. The model
defaults to a randomly initialised videomae-base-sized backbone saved locally (no hub needed):
speed does not depend on the weights.

The cut rows run `pipeline.cut` with the speed options resolved as `scenesem cut` resolves them
(`--keep`, `--max-clips-per-shot`; defaults from config). With `--reference` the full-token,
uncapped cut runs too and its scenes are compared (boundary F1, ±0.5 s).

When CUDA is present the GPU rows follow: decode frames/s (PyAV on CPU threads, PyAV with
NVDEC through its `hwaccel`, the ffmpeg binary with and without `-hwaccel cuda`), backbone
clips/s in bf16 at batch 16 and 64 (keep 1 and the default keep), and the end-to-end cut on
the GPU for this film and for a 2-hour 1080p film (`--gpu-long-minutes`, 0 to skip).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_film(path: Path, minutes: float, width: int = 1920, height: int = 1080,
              fps: Fraction = Fraction(25)) -> None:
    """A 1080p H.264 film of textured shots 1–6 s long (cheap to render, real to decode)."""
    from scenesem_otio.media.encode import VideoWriter

    rng = np.random.default_rng(0)
    n_total = int(minutes * 60 * fps)
    yy, xx = np.mgrid[0:height, 0:width]
    with VideoWriter(path, fps, width, height, crf=23, gop=50) as w:
        while w.n_frames < n_total:
            n = min(int(rng.integers(25, 150)), n_total - w.n_frames)
            base = rng.integers(0, 256, size=3)
            fx, fy = rng.uniform(0.002, 0.02, size=2)
            tex = (np.sin(xx * fx) * np.cos(yy * fy) * 60).astype(np.int16)
            bg = np.clip(base[None, None] + tex[..., None], 0, 255).astype(np.uint8)
            for i in range(n):
                frame = np.roll(bg, 8 * i, axis=1)
                w.write(frame)


def make_long_film(path: Path, minutes: float, piece_minutes: float = 10.0) -> None:
    """A long film as a 10-minute rendered piece looped by stream copy (seconds, not an hour).

    Content repeats, but the decoder, detector and model still see every frame; what this
    measures (time per minute, memory flatness) does not depend on the content being new.
    """
    import math

    import imageio_ffmpeg

    loops = math.ceil(minutes / piece_minutes)
    piece = path.with_name(f"piece_{minutes / loops:g}min_1080p.mp4")
    if not piece.exists():
        make_film(piece, minutes / loops)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-stream_loop",
                    str(loops - 1), "-i", str(piece), "-c", "copy", str(path)], check=True)


def make_model(path: Path, tiny: bool = False) -> None:
    """videomae-base-sized (12 layers, hidden 768, 224², 16 frames), random weights."""
    import torch
    from transformers import VideoMAEConfig, VideoMAEModel

    torch.manual_seed(0)
    config = VideoMAEConfig(image_size=64, hidden_size=64, num_hidden_layers=4,
                            num_attention_heads=4, intermediate_size=128) if tiny \
        else VideoMAEConfig()
    VideoMAEModel(config).save_pretrained(path)


PEAK = (
    "import atexit, sys\n"
    "def _peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('__VMHWM__ ' + line.split()[1] + '\\n')\n"
    "atexit.register(_peak)\n"
)


def run_child(label: str, argv: list[str], media_s: float, rows: list[dict]) -> None:
    """Run one stage in a child process; record wall time and that process's own peak RSS.

    Peak RSS is the child's VmHWM (reset at exec), not wait4's ru_maxrss, which Linux inherits
    from the forking parent and would report the benchmark's own size.
    """
    if argv[1] == "-c":
        argv = [argv[0], "-c", PEAK + argv[2], *argv[3:]]
    elif argv[1:3] == ["-m", "scenesem_otio"]:
        argv = [argv[0], "-c", PEAK + "import runpy, sys\nsys.argv = ['scenesem'] + "
                f"{argv[3:]!r}\nrunpy.run_module('scenesem_otio', run_name='__main__')"]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peaks = [int(line.split()[1]) for line in proc.stderr.splitlines()
             if line.startswith("__VMHWM__")]
    if proc.returncode != 0:
        print(f"{label} failed:\n{(proc.stdout + proc.stderr)[-2000:]}", file=sys.stderr)
    rows.append({"stage": label, "wall_s": wall, "rtf": media_s / wall,
                 "rss_mb": (peaks[-1] / 1024) if peaks else float("nan"),
                 "ok": proc.returncode == 0, "stdout": proc.stdout})


STAGES = {
    "probe": "from scenesem_otio.media.probe import probe; probe({v!r})",
    "decode → 224² crops": (
        "from scenesem_otio.media.probe import probe\n"
        "from scenesem_otio.media.sampling import iter_clips\n"
        "n = probe({v!r}).n_frames\n"
        "sets = [list(range(i, min(i + 16, n))) for i in range(0, n, 16)]\n"
        "for _ in iter_clips({v!r}, sets, size=224): pass"
    ),
    "decode → 224² crops (ffmpeg pipe, imageio-ffmpeg)": (
        "import subprocess, imageio_ffmpeg\n"
        "cmd = [imageio_ffmpeg.get_ffmpeg_exe(), '-v', 'error', '-threads', '2', '-i', {v!r},\n"
        "       '-vf', 'scale=-2:224:flags=bilinear,crop=224:224', '-f', 'rawvideo',\n"
        "       '-pix_fmt', 'rgb24', '-']\n"
        "p = subprocess.Popen(cmd, stdout=subprocess.PIPE)\n"
        "while p.stdout.read(224 * 224 * 3 * 64): pass\n"
        "p.wait()"
    ),
    "shot detection (scenesem, PySceneDetect API)": (
        "from scenesem_otio.media.shots import detect_shots; detect_shots({v!r})"
    ),
    "single pass: decode + shots + 224² crops": (
        "from scenesem_otio.media.probe import probe\n"
        "from scenesem_otio.core.config import SamplingOptions, ShotOptions\n"
        "from scenesem_otio.media.stream import single_pass\n"
        "scan = single_pass(probe({v!r}), ShotOptions(),\n"
        "                   SamplingOptions(num_frames=16, image_size=224))\n"
        "for _ in scan.clips(): pass"
    ),
    "segmentation + timeline write (2000 shots)": (
        "import numpy as np\n"
        "from scenesem_otio.media.probe import probe\n"
        "from scenesem_otio.core.scenes import shots_from_cuts\n"
        "from scenesem_otio.segment.decide import segment\n"
        "from scenesem_otio.adapters.timeline import build_timeline\n"
        "from scenesem_otio.adapters.formats import write_timeline\n"
        "info = probe({v!r}); n = info.n_frames\n"
        "shots = shots_from_cuts(list(np.linspace(0, n, 2001, dtype=int)[1:-1]), n)\n"
        "emb = np.random.default_rng(0).normal(size=(len(shots), 256))\n"
        "scenes = segment(shots, emb, float(info.fps)).scenes\n"
        "write_timeline(build_timeline(info, scenes), {w!r} + '/seg.otio')"
    ),
    "backbone clips/s (64 clips)": (
        "import numpy as np\n"
        "from scenesem_otio.model.checkpoint import load_embedder\n"
        "m = load_embedder({m!r})\n"
        "s = m.backbone.image_size\n"
        "m.embed(np.zeros((64, 16, s, s, 3), np.uint8), batch_size=8)"
    ),
}


CUT = (
    "from pathlib import Path\n"
    "from scenesem_otio.core.config import CutOptions, RuntimeOptions\n"
    "from scenesem_otio.model.backbone import apply_speed_options\n"
    "from scenesem_otio.model.checkpoint import load_embedder\n"
    "from scenesem_otio.pipeline import cut\n"
    "rt = RuntimeOptions(model={m!r}, device={d!r}, precision={p!r}, batch_size={b},\n"
    "                    keep={k!r}, max_clips_per_shot={c!r})\n"
    "e = load_embedder(rt.model, device=rt.device, precision=rt.precision)\n"
    "apply_speed_options(e, rt)  # as `scenesem cut --keep … --max-clips-per-shot …`\n"
    "r = cut(Path({v!r}), CutOptions(runtime=rt, progress=False), embedder=e,\n"
    "        output=Path({o!r}))\n"
    "print('__CUT__', r.film.n_clips, round(r.film.clips_per_s, 3), e.meta.keep,\n"
    "      e.meta.sampling.max_clips_per_shot, r.precision, flush=True)"
)

DECODE = {
    "decode, PyAV CPU threads": (
        "import av\n"
        "with av.open({v!r}) as c:\n"
        "    s = c.streams.video[0]; s.thread_type = 'AUTO'\n"
        "    n = sum(1 for _ in c.decode(s))\n"
        "print('__FRAMES__', n)"
    ),
    "decode, PyAV NVDEC (hwaccel cuda)": (
        "import av\n"
        "from av.codec.hwaccel import HWAccel\n"
        "hw = HWAccel(device_type='cuda', allow_software_fallback=False)\n"
        "with av.open({v!r}, hwaccel=hw) as c:\n"
        "    n = sum(1 for _ in c.decode(c.streams.video[0]))\n"
        "print('__FRAMES__', n)"
    ),
    "decode, ffmpeg binary CPU threads": (
        "import subprocess, imageio_ffmpeg\n"
        "subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-v', 'error', '-i', {v!r},\n"
        "                '-f', 'null', '-'], check=True)"
    ),
    "decode, ffmpeg binary -hwaccel cuda": (
        "import subprocess, imageio_ffmpeg\n"
        "subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-v', 'error', '-hwaccel', 'cuda',\n"
        "                '-i', {v!r}, '-f', 'null', '-'], check=True)"
    ),
}


BEFORE = (
    "from pathlib import Path\n"
    "from scenesem_otio.core.config import CutOptions, RuntimeOptions, ShotOptions\n"
    "from scenesem_otio.media.shots import detect_shots\n"
    "from scenesem_otio.pipeline import cut\n"
    "shots = ShotOptions(cuts=tuple(detect_shots({v!r})))  # a decode of its own, then clips\n"
    "cut(Path({v!r}), CutOptions(shots=shots, runtime=RuntimeOptions(model={m!r}),\n"
    "                            progress=False), output=Path({o!r}))"
)


def same_scenes(a: Path, b: Path) -> bool:
    """Whether two written cuts have identical scene ranges (the optimisation changes nothing)."""
    import opentimelineio as otio

    def ranges(p: Path) -> list:
        track = otio.adapters.read_from_file(str(p)).tracks[0]
        return [(c.source_range.start_time.value, c.source_range.duration.value)
                for c in track.find_clips()]
    return ranges(a) == ranges(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=None)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--stages", action="store_true", help="also time each stage alone")
    parser.add_argument("--tiny", action="store_true",
                        help="a 4-layer 64² model instead of videomae-base (pipeline overhead)")
    parser.add_argument("--keep", type=float, default=None,
                        help="fraction of tokens for the cut rows [default: config's]")
    parser.add_argument("--max-clips-per-shot", type=int, default=None,
                        help="clip budget for the cut rows, 0 = no cap [default: config's]")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--reference", action="store_true",
                        help="also cut with keep 1 and no clip cap; compare the scenes")
    parser.add_argument("--gpu-long-minutes", type=float, default=120.0,
                        help="length of the long film for the GPU end-to-end row (0: skip)")
    parser.add_argument("--before", action="store_true",
                        help="also run the unoptimised reference cut (shot detection and clip "
                             "sampling as two decodes) and check both give the same scenes")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="scenesem-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    video = args.video or work / f"film_{args.minutes:g}min_1080p.mp4"
    if not video.exists():
        print(f"rendering {video} …", file=sys.stderr)
        if args.minutes > 10:
            make_long_film(video, args.minutes)
        else:
            make_film(video, args.minutes)
    model = args.model or str(work / ("videomae-tiny-random" if args.tiny
                                      else "videomae-base-random"))
    if args.model is None and not Path(model).exists():
        make_model(Path(model), tiny=args.tiny)

    from scenesem_otio.media.probe import probe

    info = probe(video)
    media_s = info.duration_s
    py = sys.executable
    rows: list[dict] = []
    run_child("PySceneDetect (scenedetect.detect, adaptive)",
              [py, "-c", f"import scenedetect as s; s.detect({str(video)!r}, "
                         "s.AdaptiveDetector())"], media_s, rows)
    from scenesem_otio.core.config import DEFAULT_KEEP, DEFAULT_MAX_CLIPS_PER_SHOT

    keep = DEFAULT_KEEP if args.keep is None else args.keep
    cap = DEFAULT_MAX_CLIPS_PER_SHOT if args.max_clips_per_shot is None \
        else args.max_clips_per_shot
    cut_row(f"scenesem cut (keep {keep:g}, ≤{cap or '∞'} clips/shot)", video, model,
            work / "cut.otio", media_s, rows, keep=keep, cap=cap, batch=args.batch_size)
    if args.reference:
        cut_row("scenesem cut (keep 1, no clip cap: reference)", video, model,
                work / "cut_ref.otio", media_s, rows, keep=1.0, cap=0, batch=args.batch_size)
    if args.before:
        run_child("scenesem cut, before: two decodes (reference)",
                  [py, "-c", BEFORE.format(v=str(video), m=model,
                                           o=str(work / "cut_before.otio"))], media_s, rows)
    if args.stages:
        for label, code in STAGES.items():
            run_child(label, [py, "-c", code.format(v=str(video), m=model, w=str(work))],
                      media_s, rows)
    gpu = gpu_available()
    if gpu:
        gpu_rows(video, model, work, media_s, rows, keep, cap, args.gpu_long_minutes)

    ref = rows[0]["wall_s"]
    before = work / "cut_before.otio"
    if args.before and before.exists() and (work / "cut.otio").exists():
        verdict = "identical" if same_scenes(work / "cut.otio", before) else "DIFFERENT"
        print(f"\nscenes, single pass vs two decodes: {verdict}")
    if args.reference and (work / "cut.otio").exists() and (work / "cut_ref.otio").exists():
        f1 = scene_f1(work / "cut.otio", work / "cut_ref.otio")
        print(f"\nscenes, keep {keep:g} / ≤{cap or '∞'} clips vs keep 1 / no cap: "
              f"boundary F1 {f1:.3f}")
    print(f"\n{video.name}: {info.width}x{info.height} @ {info.fps} fps, "
          f"{info.n_frames} frames, {media_s:.0f} s, {os.cpu_count()} CPU cores ({cpu_name()})"
          + (f", GPU {gpu}" if gpu else ""))
    print(f"{'stage':<52} {'wall s':>8} {'× real time':>12} {'÷ PySD':>8} {'peak RSS MB':>12}"
          f"  notes")
    for r in rows:
        flag = "" if r["ok"] else "  (FAILED)"
        print(f"{r['stage']:<52} {r['wall_s']:8.1f} {r['rtf']:12.1f} {r['wall_s'] / ref:8.2f} "
              f"{r['rss_mb']:12.0f}  {r.get('note', '')}{flag}")


def cut_row(label: str, video: Path, model: str, out: Path, media_s: float, rows: list[dict],
            *, keep: float, cap: int, batch: int, device: str = "cpu",
            precision: str = "auto") -> None:
    """`scenesem cut` as a child process, speed options resolved as the CLI resolves them."""
    code = CUT.format(v=str(video), m=model, d=device, p=precision, b=batch, k=keep, c=cap,
                      o=str(out))
    run_child(label, [sys.executable, "-c", code], media_s, rows)
    said = rows[-1].pop("stdout", "").split("__CUT__")
    if len(said) > 1:
        n, rate, used_keep, used_cap, prec = said[1].split()[:5]
        rows[-1]["note"] = (f"{n} clips, {rate} clips/s {prec}, keep {used_keep}, "
                            f"cap {used_cap}")


def gpu_available() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def gpu_rows(video: Path, model: str, work: Path, media_s: float, rows: list[dict],
             keep: float, cap: int, long_minutes: float) -> None:
    """Decode frames/s (CPU threads vs NVDEC), backbone clips/s bf16 at batch 16/64, and the
    GPU cut end to end on this film and on a long one (read by reading: no GPU where written).
    """
    from scenesem_otio.media.probe import probe

    n_frames = probe(video).n_frames
    for label, code in DECODE.items():
        run_child(label, [sys.executable, "-c", code.format(v=str(video))], media_s, rows)
        r = rows[-1]
        r.pop("stdout", None)
        r["note"] = f"{n_frames / r['wall_s']:.0f} frames/s" if r["ok"] else "not available"
    proc = subprocess.run([sys.executable, str(HERE / "backbone.py"), "--device", "cuda",
                           "--clips", "256"], capture_output=True, text=True)
    print(proc.stdout[proc.stdout.find("\ndevice"):] if proc.returncode == 0
          else f"backbone.py --device cuda failed:\n{proc.stderr[-2000:]}")
    cut_row(f"scenesem cut, CUDA bf16 batch 64 (keep {keep:g})", video, model,
            work / "cut_gpu.otio", media_s, rows, keep=keep, cap=cap, batch=64,
            device="cuda", precision="bf16")
    if long_minutes > 0:
        long_film = work / f"film_{long_minutes:g}min_1080p.mp4"
        if not long_film.exists():
            make_long_film(long_film, long_minutes)
        long_s = probe(long_film).duration_s
        run_child(f"PySceneDetect, {long_minutes:g}-min film",
                  [sys.executable, "-c", f"import scenedetect as s; s.detect("
                   f"{str(long_film)!r}, s.AdaptiveDetector())"], long_s, rows)
        cut_row(f"scenesem cut, CUDA bf16, {long_minutes:g}-min film", long_film, model,
                work / "cut_gpu_long.otio", long_s, rows, keep=keep, cap=cap, batch=64,
                device="cuda", precision="bf16")


def scene_f1(pred: Path, ref: Path) -> float:
    """Boundary F1 (±0.5 s) of one written cut's scene starts against another's."""
    import opentimelineio as otio

    from scenesem_otio.evaluate.metrics import boundary_prf

    def starts(p: Path) -> list[float]:
        clips = otio.adapters.read_from_file(str(p)).tracks[0].find_clips()
        return [c.source_range.start_time.to_seconds() for c in clips][1:]
    return boundary_prf(starts(pred), starts(ref))["f1"]


def cpu_name() -> str:
    from scenesem_otio.model.precision import cpu_name as name

    return name()


if __name__ == "__main__":
    main()
