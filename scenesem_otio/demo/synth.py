"""Benchmark films with a known scene structure, rendered for real (H.264), plus truth timelines.

Each film has places (procedural backgrounds with their own palette and lighting) and
characters (moving shapes). A scene is 2–6 shots of one place with camera changes (zoom, pan,
angle = another crop of the place). The hard cases the seed names are built in:
- **intercut**: one scene alternating between two places (a phone call) — visually different
  shots the text says belong together;
- **revisit**: a place seen again later in a different scene — visually alike, text differs;
- a lighting change inside a scene, and a hard cut between two visually similar places.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

PLACES = [
    ("kitchen", ["kettle", "table", "window"]),
    ("harbour", ["boats", "ropes", "crates"]),
    ("office", ["desk", "computer", "files"]),
    ("forest clearing", ["trees", "campfire", "tent"]),
    ("train station", ["platform", "clock", "benches"]),
    ("rooftop", ["antenna", "railing", "city lights"]),
    ("library", ["shelves", "lamp", "books"]),
    ("garage", ["car", "tools", "workbench"]),
    ("beach", ["umbrella", "towels", "waves"]),
    ("hospital corridor", ["stretcher", "doors", "nurse station"]),
]
CHARACTERS = ["Anna", "Ben", "Chloe", "David", "Elena", "Farid"]
TIMES = ["in the morning", "at noon", "in the afternoon", "in the evening", "at night"]
ACTIVITIES = [
    ("argue about {thing}", "tense"), ("share a quiet meal", "warm"),
    ("search for the {thing}", "anxious"), ("plan the next move", "focused"),
    ("laugh about the {thing}", "light"), ("wait in silence", "heavy"),
]
OPENERS = ["", "Meanwhile, ", "Later, ", "Some time after, "]


@dataclass
class PlaceLook:
    """A place's canvas (bigger than the frame: shots are crops) and its base lighting."""

    name: str
    props: list[str]
    canvas: np.ndarray  # uint8 [2H, 2W, 3]


@dataclass
class SynthScene:
    start: int
    end: int
    title: str
    description: str
    props: list[str]
    context: str
    kind: str  # normal | intercut | revisit | similar | lighting
    places: list[int]
    shots: list[int] = field(default_factory=list)  # shot start frames


def _canvas(rng: np.random.Generator, width: int, height: int,
            base: np.ndarray | None = None) -> np.ndarray:
    h, w = 2 * height, 2 * width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.integers(30, 226, size=3) if base is None else base
    second = rng.integers(0, 256, size=3)
    kind = rng.integers(0, 3)
    fx, fy = rng.uniform(0.01, 0.06, size=2)
    if kind == 0:
        pattern = np.sin(xx * fx + yy * fy * 0.3)
    elif kind == 1:
        pattern = np.sign(np.sin(xx * fx) * np.sin(yy * fy))
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        pattern = np.cos(np.hypot(xx - cx, yy - cy) * fx)
    mix = ((pattern + 1) / 2)[..., None]
    img = base[None, None, :] * (1 - 0.5 * mix) + second[None, None, :] * 0.5 * mix
    # A few fixed "objects" (props) so crops of one place share content.
    for _ in range(6):
        x0, y0 = rng.integers(0, w - w // 6), rng.integers(0, h - h // 6)
        sw, sh = rng.integers(w // 20, w // 6), rng.integers(h // 20, h // 6)
        img[y0 : y0 + sh, x0 : x0 + sw] = rng.integers(0, 256, size=3)
    return np.clip(img, 0, 255).astype(np.uint8)


def _shot_frames(look: PlaceLook, n: int, width: int, height: int, rng: np.random.Generator,
                 gain: float, actors: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """A shot: a crop (zoom/angle) of the place panning slowly, characters moving across."""
    import cv2

    ch, cw = look.canvas.shape[:2]
    zoom = rng.uniform(1.0, 1.8)
    vw, vh = int(cw / 2 * 2 / zoom), int(ch / 2 * 2 / zoom)
    vw, vh = min(vw, cw), min(vh, ch)
    x0, y0 = rng.integers(0, cw - vw + 1), rng.integers(0, ch - vh + 1)
    dx, dy = rng.uniform(-1.5, 1.5, size=2)
    out = np.empty((n, height, width, 3), np.uint8)
    for i in range(n):
        x = int(np.clip(x0 + dx * i, 0, cw - vw))
        y = int(np.clip(y0 + dy * i, 0, ch - vh))
        frame = cv2.resize(look.canvas[y : y + vh, x : x + vw], (width, height),
                           interpolation=cv2.INTER_AREA).astype(np.float32)
        for k, (colour, shape) in enumerate(actors):
            size = height // 5
            px = int((i * (2 + k) + k * width // 3) % max(1, width - size))
            py = height - size - 4 - k * (size // 2)
            if shape == 0:
                frame[py : py + size, px : px + size] = colour
            else:
                yy, xx = np.ogrid[:size, :size]
                disk = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 <= (size / 2) ** 2
                frame[py : py + size, px : px + size][disk] = colour
        out[i] = np.clip(frame * gain, 0, 255).astype(np.uint8)
    return out


def _plan_kinds(n_scenes: int) -> list[str]:
    """The special cases at fixed positions in random films."""
    kinds = ["normal"] * n_scenes
    kinds[1] = "similar"  # place 1 right after place 0
    kinds[3] = "intercut"
    kinds[5] = "lighting"
    if n_scenes > 6:
        kinds[6] = "revisit"  # back to the place of scene 0
    return kinds


def _places(s: int, kind: str) -> list[int]:
    if kind == "similar":
        return [1]
    if kind == "revisit":
        return [0]
    if kind == "intercut":
        return [2 + (s % 2), 4 + (s % 2)]
    return [[0, 2, 3, 4, 5][s % 5] if s else 0]


def _describe(s: int, kind: str, places: list[int], looks: list[PlaceLook],
              cast_names: list[str], rng: np.random.Generator
              ) -> tuple[str, list[str], str, list[str]]:
    """(description, props, mood, who) of scene `s`, in the words an editor would log."""
    who = [cast_names[(s + j) % len(cast_names)] for j in range(2)]
    act, mood = ACTIVITIES[int(rng.integers(len(ACTIVITIES)))]
    thing = str(rng.choice(looks[places[0]].props))
    when = str(rng.choice(TIMES))
    opener = str(rng.choice(OPENERS)) if s else ""
    if kind == "intercut":
        a, b = looks[places[0]].name, looks[places[1]].name
        desc = (f"{opener}{who[0]} phones {who[1]} {when}: {who[0]} is in the {a}, "
                f"{who[1]} answers from the {b}.")
        return desc, ["phone", *looks[places[0]].props[:1], *looks[places[1]].props[:1]], \
            "urgent", who
    if kind == "revisit":
        desc = (f"{opener}{who[0]} comes back to the {looks[0].name} alone "
                f"{when} and finds it changed.")
        return desc, list(looks[0].props), "melancholic", who[:1]
    where = looks[places[0]].name
    desc = f"{opener}{who[0]} and {who[1]} {act.format(thing=thing)} in the {where} {when}."
    return desc, list(looks[places[0]].props), mood, who


def render_synth_film(path: Path, seed: int, width: int = 320, height: int = 180,
                      fps: Fraction | int | str = 25, n_scenes: int = 9
                      ) -> list[SynthScene]:
    """Render one film and return its scenes (truth)."""
    from scenesem_otio.media.encode import VideoWriter

    rng = np.random.default_rng(seed)
    fps = Fraction(fps)
    place_ids = rng.choice(len(PLACES), size=min(6, len(PLACES)), replace=False)
    looks: list[PlaceLook] = []
    for k, pid in enumerate(place_ids):
        name, props = PLACES[pid]
        # Place 1 is the visually similar sibling of place 0 (same palette, new layout).
        base = looks[0].canvas.reshape(-1, 3).mean(0).astype(int) if k == 1 else None
        looks.append(PlaceLook(name, props, _canvas(rng, width, height, base)))
    actors = [(rng.integers(0, 256, size=3).astype(np.float32), int(rng.integers(0, 2)))
              for _ in CHARACTERS]
    cast_names = list(rng.permutation(CHARACTERS))
    scenes: list[SynthScene] = []
    frame = 0
    with VideoWriter(path, fps, width, height) as writer:
        for s, kind in enumerate(_plan_kinds(n_scenes)):
            places = _places(s, kind)
            desc, props, mood, who = _describe(s, kind, places, looks, cast_names, rng)
            n_shots = int(rng.integers(2, 6)) if kind != "intercut" else 4
            scene = SynthScene(frame, frame, f"Scene {s + 1}", desc, props,
                               f"mood: {mood}", kind, places)
            for k in range(n_shots):
                length = round(float(fps) * rng.uniform(1.2, 2.6))
                gain = 0.55 if kind == "lighting" and k >= n_shots // 2 else 1.0  # lights down
                chars = [actors[CHARACTERS.index(w)] for w in who]
                if kind == "intercut":
                    chars = chars[k % 2 : k % 2 + 1]
                scene.shots.append(frame)
                for img in _shot_frames(looks[places[k % len(places)]], length, width, height,
                                        rng, gain, chars):
                    writer.write(img)
                frame += length
            scene.end = frame
            scenes.append(scene)
    return scenes


def write_truth(video: Path, scenes: list[SynthScene], path: Path) -> None:
    """Truth timeline: a clip per scene with a ranged marker (title, description, props)."""
    from opentimelineio.opentime import RationalTime, TimeRange

    from scenesem_otio.adapters.formats import write_timeline
    from scenesem_otio.adapters.timeline import NS, build_timeline
    from scenesem_otio.core.scenes import Scene
    from scenesem_otio.media.probe import probe

    info = probe(video)
    objs = [Scene(index=i, start=s.start, end=s.end, n_shots=len(s.shots), title=s.title,
                  description=s.description,
                  metadata={"props": s.props, "context": s.context, "kind": s.kind,
                            "places": s.places, "shot_starts": s.shots})
            for i, s in enumerate(scenes)]
    timeline = build_timeline(info, objs, metadata={"tool": "scenesem synth", "truth": True})
    rate = float(info.fps)
    for clip, scene in zip(timeline.tracks[0].find_clips(), objs):
        marker = clip.markers[0]
        marker.marked_range = TimeRange(RationalTime(info.start_frame + scene.start, rate),
                                        RationalTime(scene.n_frames, rate))
        marker.metadata[NS] = dict(marker.metadata[NS]) | {
            "props": scene.metadata["props"], "context": scene.metadata["context"],
            "kind": scene.metadata["kind"]}
    write_timeline(timeline, path)


def synth_films(out_dir: Path, n_films: int = 4, seed: int = 0, width: int = 320,
                height: int = 180, fps: str | Fraction = "25", progress: bool = True
                ) -> list[dict[str, Any]]:
    """Render films + truth timelines + `manifest.yaml`; returns the manifest entries."""
    from scenesem_otio.core.errors import DataError
    from scenesem_otio.core.fileio import write_text_atomic
    from scenesem_otio.core.progress import progress_bar
    from scenesem_otio.core.scenes import parse_rate

    rate = parse_rate(fps, "--fps")
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise DataError(f"{width}x{height}: width and height must be even and ≥ 64")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    with progress_bar("rendering films", total=n_films, unit="films",
                      enabled=progress) as advance:
        for i in range(n_films):
            video = out_dir / f"film_{i:03d}.mp4"
            truth = out_dir / f"film_{i:03d}.truth.otio"
            tmp = video.with_name(f".{video.name}.tmp.mp4")
            scenes = render_synth_film(tmp, seed * 1000 + i, width, height, rate)
            tmp.replace(video)
            write_truth(video, scenes, truth)
            entries.append({"video": video.name, "timeline": truth.name, "split": "train",
                            "kinds": sorted({s.kind for s in scenes})})
            advance(1)
    import yaml

    write_text_atomic(out_dir / "manifest.yaml", yaml.safe_dump(entries, sort_keys=False))
    write_text_atomic(out_dir / "scenes.json", json.dumps(
        {e["video"]: e for e in entries}, indent=2))
    return entries


def synth_cli(out_dir: Path, n_films: int = 4, seed: int = 0, width: int = 320,
              height: int = 180, fps: str = "25") -> str:
    import time

    start = time.perf_counter()
    entries = synth_films(out_dir, n_films, seed, width, height, fps)
    return (f"films         {len(entries)} ({width}x{height} @ {fps})\n"
            f"truth         {out_dir}/film_NNN.truth.otio (scene markers with text)\n"
            f"manifest      {Path(out_dir) / 'manifest.yaml'}\n"
            f"wall time     {time.perf_counter() - start:.1f} s")
