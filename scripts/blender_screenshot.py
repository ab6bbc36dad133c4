"""Screenshot of the Blender add-on: the Sequencer's Scenes tab beside a film cut into scenes.

A check by eye (not a CI test). Run under Xvfb with Debian's blender:
  scenesem blender-addon -o /tmp/scenesem_blender.zip
  xvfb-run -a -s "-screen 0 1600x900x24" blender --factory-startup --enable-event-simulate \
      --python scripts/blender_screenshot.py -- ZIP FILM MODEL OUT.png [SCENESEM]
Blender 3.4 cannot pick a sidebar tab from Python, so the script turns the tabs with simulated
Ctrl+wheel events over the sidebar until the Scenes panel draws.
"""

import os
import shutil
import sys

import bpy

zip_path, film, model, out = sys.argv[sys.argv.index("--") + 1:][:4]
exe = (sys.argv[sys.argv.index("--") + 5:] or [shutil.which("scenesem") or "scenesem"])[0]

bpy.ops.preferences.addon_install(filepath=os.path.abspath(zip_path), overwrite=True)
bpy.ops.preferences.addon_enable(module="scenesem_blender")
bpy.context.preferences.addons["scenesem_blender"].preferences.scenesem_path = exe

scene = bpy.context.scene
editor = scene.sequence_editor_create()
movie = editor.sequences.new_movie("film", film, channel=2, frame_start=1)
editor.sequences.new_sound("film sound", film, channel=1, frame_start=1)
editor.active_strip = movie
scene.scenesem.model = model
scene.scenesem.use_min_scene = True
scene.scenesem.min_scene = 0.0
scene.render.resolution_x, scene.render.resolution_y = movie.elements[0].orig_width, \
    movie.elements[0].orig_height
print("cut:", bpy.ops.sequencer.scenesem_cut())
scene.frame_end = max(s.frame_final_end for s in editor.sequences_all) - 1
scene.frame_current = 100
second = editor.sequences_all.get("Scene 002")
if second is not None:
    editor.active_strip = second
    second.select = True

window = bpy.context.window_manager.windows[0]
area = max(window.screen.areas, key=lambda a: a.width * a.height)
area.type = "SEQUENCE_EDITOR"
area.spaces.active.view_type = "SEQUENCER_PREVIEW"
area.spaces.active.show_region_ui = True

drawn = []
panel = bpy.types.SEQUENCER_PT_scenesem
draw = panel.draw
panel.draw = lambda self, context: (drawn.append(1), draw(self, context))[1]
tries = [0]


def step() -> float | None:
    sidebar = next(r for r in area.regions if r.type == "UI")
    if tries[0] == 0:  # close the first-run splash
        window.event_simulate("ESC", "PRESS")
        window.event_simulate("ESC", "RELEASE")
    if not drawn and tries[0] < 20:  # turn the sidebar's tabs: Ctrl+wheel over it
        tries[0] += 1
        x, y = sidebar.x + sidebar.width // 2, sidebar.y + sidebar.height // 2
        window.event_simulate("MOUSEMOVE", "NOTHING", x=x, y=y)
        window.event_simulate("WHEELDOWNMOUSE", "PRESS", x=x, y=y, ctrl=True)
        return 0.5
    main = next(r for r in area.regions if r.type == "WINDOW")
    preview = next(r for r in area.regions if r.type == "PREVIEW")
    with bpy.context.temp_override(window=window, area=area, region=main):
        bpy.ops.sequencer.view_all()
    with bpy.context.temp_override(window=window, area=area, region=preview):
        bpy.ops.sequencer.view_all_preview()
    bpy.app.timers.register(shoot, first_interval=1.0)
    return None


def shoot() -> None:
    with bpy.context.temp_override(window=window, area=area):
        bpy.ops.screen.screenshot(filepath=os.path.abspath(out))
    print("screenshot:", out, "scenes tab drawn:", bool(drawn))
    bpy.ops.wm.quit_blender()


bpy.app.timers.register(step, first_interval=2.0)
