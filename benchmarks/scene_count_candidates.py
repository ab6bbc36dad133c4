"""How `--scenes auto` chooses N, against the rules it was measured with (issue 25).

Usage:
    python benchmarks/scene_count_candidates.py --workdir /tmp/real-footage [--films 8]
        [--demo DIR]

Reads the films and cached embeddings of `benchmarks/real_footage.py` (run that first with the
same --workdir and --films: it builds and embeds them) and decodes every film once per rule.
Every rule groups the film-centred shot embeddings optimally for each N (one dynamic
programme) and differs only in how N is picked or which scenes may exist:

- silhouette: the N where the sequential silhouette peaks (the shipped row calls
  `count.choose_scene_count` itself);
- plateau r: the smallest N within r × the peak (a parsimony rule: N's the curve cannot tell
  apart are settled for the fewest scenes);
- gap: silhouette minus its mean over 10 shuffled shot orders (a null without sequence);
- floor f: scenes must last f × the film's median shot;
- lone median: a scene of one shot scores (b − ā)/max(ā, b) with ā the median within-scene
  distance of the other shots, instead of the silhouette's usual 0;
- true N: the count given, with and without the floor (the ceiling of any count rule).

Scores as in real_footage.py: F1 at ±0.5 s pooled over a construction's films, mIoU averaged.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_footage as rf

from scenesem_otio.segment import count as C

# (shot embeddings as `cut` stores them, shot starts in s, film end in s, true N) -> scene starts
Rule = Callable[[np.ndarray, list[float], float, int], list[int]]


def curve(v: np.ndarray, allowed: np.ndarray | None, lone: str = "zero"
          ) -> tuple[dict[int, float], dict[int, list[int]]]:
    """Criterion per N and the grouping of each N, N from 2 to n / 1.5."""
    n_max = max(2, min(len(v) - 1, int(np.ceil(len(v) / C.MIN_SHOTS_PER_SCENE))))
    sim_prefix = C.similarity_prefix(v)
    values, groups = {}, {}
    for k, starts in enumerate(C.iter_groupings(C.segment_gains(v, allowed)), start=1):
        if k > n_max:
            break
        if starts is None or k == 1:
            continue
        values[k] = (lone_median_silhouette(v, starts) if lone == "median"
                     else C.sequential_silhouette(v, starts, sim_prefix))
        groups[k] = starts
    return values, groups


def lone_median_silhouette(v: np.ndarray, starts: list[int]) -> float:
    """The sequential silhouette, but a lone shot is scored against the median a of the rest."""
    n, dist = len(v), 1.0 - v @ v.T
    bounds = [*starts, n]
    scene = np.repeat(np.arange(len(starts)), np.diff(bounds))
    a, b = np.zeros(n), np.zeros(n)
    for i in range(n):
        k = scene[i]
        lo, hi = bounds[k], bounds[k + 1]
        a[i] = dist[i, lo:hi].sum() / max(hi - lo - 1, 1)
        near = [dist[i, bounds[k - 1]:lo].mean()] if k > 0 else []
        near += [dist[i, hi:bounds[k + 2]].mean()] if k + 2 < len(bounds) else []
        b[i] = min(near)
    alone = np.diff(bounds)[scene] == 1
    if alone.all():
        return 0.0
    a = np.where(alone, np.median(a[~alone]), a)
    return float(np.mean((b - a) / np.maximum(np.maximum(a, b), 1e-12)))


def pick(values: dict[int, float], groups: dict[int, list[int]], within: float = 0.0
         ) -> list[int]:
    if not values:
        return [0]
    top = max(values.values())
    if top <= 0:
        return [0]
    return groups[min(k for k, x in values.items() if x >= top - within * abs(top))]


def floor_mask(starts_s: list[float], end: float, factor: float) -> np.ndarray | None:
    if not factor:
        return None
    return C.min_length_mask(starts_s, end, factor * float(np.median(np.diff([*starts_s, end]))))


def shipped(emb: np.ndarray, starts_s: list[float], end: float, n_true: int) -> list[int]:
    """`--scenes auto` itself, not a copy of it."""
    return C.choose_scene_count(emb, starts_s, end).starts


def silhouette(factor: float = 0.0, within: float = 0.0, lone: str = "zero") -> Rule:
    def rule(emb: np.ndarray, starts_s: list[float], end: float, n_true: int) -> list[int]:
        v = C.film_centred(emb)
        return pick(*curve(v, floor_mask(starts_s, end, factor), lone), within)
    return rule


def gap(reps: int = 10) -> Rule:
    def rule(emb: np.ndarray, starts_s: list[float], end: float, n_true: int) -> list[int]:
        v = C.film_centred(emb)
        values, groups = curve(v, None)
        rng = np.random.default_rng(0)
        nulls = [curve(v[rng.permutation(len(v))], None)[0] for _ in range(reps)]
        adjusted = {k: x - float(np.mean([nl.get(k, np.nan) for nl in nulls]))
                    for k, x in values.items()}
        return pick(adjusted, groups)
    return rule


def true_count(factor: float = 0.0) -> Rule:
    def rule(emb: np.ndarray, starts_s: list[float], end: float, n_true: int) -> list[int]:
        from scenesem_otio.segment.decide import optimal_grouping

        return optimal_grouping(C.film_centred(emb), min(n_true, len(emb)),
                                floor_mask(starts_s, end, factor))
    return rule


RULES: dict[str, Rule] = {
    "silhouette, no floor (shipped)": shipped,
    "plateau 3 %, no floor": silhouette(within=0.03),
    "plateau 5 %, no floor": silhouette(within=0.05),
    "gap: silhouette − shuffled, no floor": gap(),
    "floor 0.5 × median shot": silhouette(0.5),
    "floor 0.75 × median shot": silhouette(0.75),
    "floor 1 × median shot": silhouette(1.0),
    "floor 1.25 × median shot": silhouette(1.25),
    "floor 1.5 × median shot": silhouette(1.5),
    "floor 2 × median shot": silhouette(2.0),
    "floor 1 ×, plateau 3 %": silhouette(1.0, within=0.03),
    "floor 1 ×, lone shot vs median a": silhouette(1.0, lone="median"),
    "floor 0.75 ×, lone shot vs median a": silhouette(0.75, lone="median"),
    "lone shot vs median a, no floor": silhouette(lone="median"),
    "true N, no floor (shipped --scenes N)": true_count(),
    "true N, floor 0.5 ×": true_count(0.5),
    "true N, floor 1 ×": true_count(1.0),
}


def evaluate(films: list[rf.Film]) -> dict[str, dict[str, dict[str, Any]]]:
    from scenesem_otio.evaluate.metrics import Segmentation, overall, score

    per: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for film in films:
        e, _ = rf.embedded(film, None)
        fr = float(e.info.fps)
        end = e.shots[-1].end / fr
        starts_s = [s.start / fr for s in e.shots]
        truth = Segmentation([s / fr for s in film.scene_starts], e.info.n_frames / fr)
        rows = per.setdefault(film.construction, {})
        for name, rule in RULES.items():
            starts = rule(e.shot_embeddings, starts_s, end, len(film.scene_starts))
            pred = Segmentation(sorted({0.0, *(starts_s[k] for k in starts)}), truth.end)
            rows.setdefault(name, []).append(score(pred, truth))
    return {c: {name: overall(r) for name, r in rows.items()} for c, rows in per.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/scenesem-real-footage"))
    parser.add_argument("--films", type=int, default=8, help="films per construction")
    parser.add_argument("--demo", type=Path, default=None,
                        help="also the held-out films of this `scenesem demo --workdir`")
    args = parser.parse_args()
    films = rf.make_films(args.workdir, args.films)
    if args.demo:
        rf.EMBED_CACHE = str(args.workdir)
        films += rf.demo_films(args.demo)
    missing = [f.video.name for f in films if not rf.cached_embedding(f).exists()]
    if missing:
        sys.exit(f"not embedded yet: {', '.join(missing[:3])}… run benchmarks/real_footage.py "
                 f"--workdir {args.workdir} --films {args.films} first")
    table = evaluate(films)
    constructions = list(table)
    print("rule".ljust(46) + "".join(c[:14].rjust(16) for c in constructions))
    for name in RULES:
        cells = [f"{table[c][name]['f1']:.3f}/{table[c][name]['miou']:.3f}" for c in constructions]
        print(name.ljust(46) + "".join(x.rjust(16) for x in cells))


if __name__ == "__main__":
    main()
