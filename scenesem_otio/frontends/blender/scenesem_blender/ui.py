"""The Scenes tab of the Sequencer sidebar, its settings, and the add-on's preferences."""

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty, StringProperty

from .operators import RUNNING


class ScenesemPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    scenesem_path: StringProperty(
        name="scenesem executable", subtype="FILE_PATH",
        description="The scenesem command to run; empty: scenesem on PATH")

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.prop(self, "scenesem_path")


class ScenesemSettings(bpy.types.PropertyGroup):
    """The cut's options, kept with the scene (the cut operator's unset properties)."""

    model: StringProperty(name="Model", default="auto",
                          description="auto, embedded, a hub id, a model folder or a "
                                      "scenesem checkpoint")
    automatic: BoolProperty(name="Automatic count", default=True,
                            description="Let the model decide how many scenes")
    scene_count: IntProperty(name="Scenes", default=10, min=1,
                             description="Exactly this many scenes")
    use_min_scene: BoolProperty(name="Minimum scene length", default=False,
                                description="Override the model's shortest scene")
    min_scene: FloatProperty(name="Minimum", default=2.0, min=0.0, unit="TIME_ABSOLUTE",
                             description="Shortest scene in seconds")
    storyboard: BoolProperty(name="Storyboard", default=True,
                         description="Also write the HTML storyboard of the cut")
    last_timeline: StringProperty(name="Last cut", subtype="FILE_PATH")
    last_report: StringProperty(name="Last storyboard", subtype="FILE_PATH")


class SEQUENCER_PT_scenesem(bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Scenes"
    bl_label = "scenesem"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.scenesem
        col = layout.column()
        col.prop(settings, "model")
        col.prop(settings, "automatic")
        sub = col.row()
        sub.enabled = not settings.automatic
        sub.prop(settings, "scene_count")
        col.prop(settings, "use_min_scene")
        sub = col.row()
        sub.enabled = settings.use_min_scene
        sub.prop(settings, "min_scene")
        col.prop(settings, "storyboard")
        job = RUNNING.get(context.scene.name)
        if job is not None:
            layout.label(text=f"{job.status} (Esc cancels)", icon="TIME")
        else:
            layout.operator("sequencer.scenesem_cut", icon="SEQ_STRIP_DUPLICATE")
        row = layout.row(align=True)
        row.operator("sequencer.scenesem_import", icon="IMPORT")
        row.operator("sequencer.scenesem_export", icon="EXPORT")
        layout.operator("sequencer.scenesem_report", icon="URL")
        strip = context.scene.sequence_editor.active_strip \
            if context.scene.sequence_editor else None
        if strip is not None and "scenesem_scene" in strip:
            box = layout.box()
            box.label(text=f"{strip['scenesem_scene']}: {strip.name}")
            if "scenesem_delta" in strip:
                box.label(text=f"Δ to previous {strip['scenesem_delta']:.3f}")
            if "scenesem_boundary_score" in strip:
                box.label(text=f"boundary score {strip['scenesem_boundary_score']:.3f}")
            if strip.get("scenesem_nearest"):
                box.label(text=f"nearest earlier: {strip['scenesem_nearest']}")


CLASSES = (ScenesemPreferences, ScenesemSettings, SEQUENCER_PT_scenesem)
