"""Runs inside Blender before each test's script (tests/test_blender.py): installs and enables
the add-on zip into a throwaway user folder, points it at this checkout's `scenesem`, and gives
the script helpers that record what the VSE holds. Needs env SCENESEM_ADDON_ZIP,
SCENESEM_EXE and SCENESEM_RESULT (the JSON file the script's `RESULT` goes to)."""

import json
import os

import bpy

bpy.ops.preferences.addon_install(filepath=os.environ["SCENESEM_ADDON_ZIP"], overwrite=True)
bpy.ops.preferences.addon_enable(module="scenesem_blender")
bpy.context.preferences.addons["scenesem_blender"].preferences.scenesem_path = \
    os.environ["SCENESEM_EXE"]
RESULT: dict = {}
SCENE = bpy.context.scene
EDITOR = SCENE.sequence_editor_create()


def strips_state() -> list[dict]:
    """Every strip: what the tests compare (frames, channel, name, tag, scenesem properties)."""
    return sorted(({
        "name": s.name, "type": s.type, "channel": s.channel,
        "start": s.frame_final_start, "end": s.frame_final_end,
        "color_tag": s.color_tag,
        "props": {k: (v if isinstance(v, (int, float, str)) else str(v))
                  for k, v in s.items() if k.startswith("scenesem")},
    } for s in EDITOR.sequences_all), key=lambda d: (d["type"], d["channel"], d["start"]))


def markers_state() -> list[list]:
    return sorted([m.frame, m.name] for m in SCENE.timeline_markers)


def attempt(op, **kwargs) -> str:
    """Run an operator; '' on success, else the one-line error it reported."""
    try:
        result = op(**kwargs)
    except RuntimeError as err:
        return str(err).strip()
    return "" if result == {"FINISHED"} else f"returned {sorted(result)}"


def add_film(path: str, fps: tuple[int, float] | None = (25, 1.0)) -> None:
    """The film's movie strip and its sound strip at frame 1, the movie active."""
    if fps is not None:
        SCENE.render.fps, SCENE.render.fps_base = fps
    movie = EDITOR.sequences.new_movie("film", path, channel=2, frame_start=1)
    EDITOR.sequences.new_sound("film sound", path, channel=1, frame_start=1)
    EDITOR.active_strip = movie


def save() -> None:
    """Write RESULT for the test (the runner calls it after the test's script)."""
    with open(os.environ["SCENESEM_RESULT"], "w", encoding="utf-8") as f:
        json.dump(RESULT, f, ensure_ascii=False)
