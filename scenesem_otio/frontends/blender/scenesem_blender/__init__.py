"""scenesem in Blender's Video Sequence Editor: cut a film into scenes, import and export
scene timelines. The model runs in the `scenesem` command (a subprocess), never in Blender."""

bl_info = {
    "name": "scenesem scenes",
    "author": "scenesem",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Sequencer > Sidebar > Scenes",
    "description": "Cut films into semantic scenes; import/export scene timelines",
    "category": "Sequencer",
}

import bpy  # noqa: E402

from . import operators, ui  # noqa: E402

CLASSES = (*ui.CLASSES, *operators.CLASSES)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.scenesem = bpy.props.PointerProperty(type=ui.ScenesemSettings)


def unregister() -> None:
    del bpy.types.Scene.scenesem
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
