"""Operators: cut the active film into scenes, import and export timelines, open the report.

Every failure is an `AddonError`: one line in the report area, strips as they were.
"""

import os
import tempfile
from pathlib import Path

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from . import runner, strips
from .scenelist import AddonError, rate_text, read_scene_list, write_scene_list

TIMELINES = "*.otio;*.otioz;*.edl;*.xml;*.fcpxml;*.kdenlive;*.mlt;*.csv;*.json"
RUNNING: dict[str, runner.Job] = {}  # scene name -> its cut in progress (the panel shows it)


def _scenesem(context: bpy.types.Context) -> str:
    prefs = context.preferences.addons.get(__package__)
    configured = prefs.preferences.scenesem_path if prefs is not None else ""
    return runner.find_scenesem(bpy.path.abspath(configured) if configured else "")


def _redraw(context: bpy.types.Context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()


class SEQUENCER_OT_scenesem_cut(bpy.types.Operator):
    """Cut the active movie strip and its sound into scenes with scenesem"""

    bl_idname = "sequencer.scenesem_cut"
    bl_label = "Cut into Scenes"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012

    # Unset properties take the Scenes tab's settings (scene.scenesem).
    model: StringProperty(name="Model", description="auto, embedded, a hub id, a model "
                          "folder or a scenesem checkpoint")
    scenes: IntProperty(name="Scenes", min=0, description="Exactly this many scenes; 0: "
                        "automatic")
    min_scene: FloatProperty(name="Minimum scene (s)", min=-1.0, description="Shortest "
                             "scene in seconds; negative: the model's default")
    storyboard: BoolProperty(name="Storyboard", description="Also write the HTML storyboard")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None and context.scene.name not in RUNNING

    def _option(self, name: str, fallback: object) -> object:
        return getattr(self, name) if self.properties.is_property_set(name) else fallback

    def _start(self, context: bpy.types.Context) -> runner.Job:
        """Check everything, then start `scenesem cut`; AddonError before any change."""
        scene = context.scene
        settings = scene.scenesem
        movie = strips.active_movie(scene)
        path = strips.media_path(movie)
        if not os.path.isfile(path):
            raise AddonError(f"{movie.name}: file not found: {path}")
        exe = _scenesem(context)
        n_scenes = self._option("scenes", 0 if settings.automatic else settings.scene_count)
        min_scene = self._option("min_scene",
                                 settings.min_scene if settings.use_min_scene else -1.0)
        report = self._option("storyboard", settings.storyboard)
        self._out = Path(tempfile.mkdtemp(prefix="scenesem-cut-"))
        self._timeline = self._out / (Path(path).stem + ".json")
        self._report = self._out / (Path(path).stem + ".html") if report else None
        sounds = strips.movie_sounds(scene, movie)
        strips.match_rate(scene, movie, sounds, strips.movie_rate(movie), apply=False)
        self._movie = movie.name
        self._sounds = [s.name for s in sounds]
        argv = [exe, "--progress", "json", "cut", path, "-o", str(self._timeline),
                "--model", str(self._option("model", settings.model) or "auto")]
        if n_scenes:
            argv += ["--scenes", str(n_scenes)]
        if min_scene >= 0:
            argv += ["--min-scene", f"{min_scene:g}"]
        if self._report is not None:
            argv += ["--report", str(self._report)]
        return runner.Job(argv)

    def _finish(self, context: bpy.types.Context, job: runner.Job) -> set[str]:
        """Apply a finished cut to the strips (still by name: the user may have edited)."""
        if job.proc.returncode != 0:
            raise job.failure("scenesem cut")
        scene = context.scene
        editor = scene.sequence_editor
        movie = editor.sequences_all.get(self._movie) if editor else None
        if movie is None:
            raise AddonError(f"the movie strip {self._movie!r} was removed during the cut")
        sounds = [s for s in strips.movie_sounds(scene, movie) if s.name in self._sounds]
        table = read_scene_list(self._timeline)
        strips.match_rate(scene, movie, sounds, table.fps)
        strips.match_picture(scene, movie, sounds, table)
        pieces = strips.split_at_scenes(scene, movie, sounds, table)
        scene.scenesem.last_timeline = str(self._timeline)
        if self._report is not None and self._report.is_file():
            scene.scenesem.last_report = str(self._report)
        self.report({"INFO"}, f"scenesem: {len(pieces)} scenes")
        return {"FINISHED"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Blocking run: scripts and `blender -b` wait for the cut."""
        try:
            job = self._start(context)
            job.wait()
            return self._finish(context, job)
        except AddonError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        """In the UI: run in the background, show progress, Esc cancels."""
        if bpy.app.background:
            return self.execute(context)
        try:
            self._job = self._start(context)
        except AddonError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self._scene = context.scene.name
        RUNNING[self._scene] = self._job
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.2, window=context.window)
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _end(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        context.workspace.status_text_set(None)
        RUNNING.pop(self._scene, None)
        _redraw(context)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        job = self._job
        if event.type == "ESC":
            job.cancel()
            self._end(context)
            self.report({"WARNING"}, "scenesem cut cancelled: strips unchanged")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if job.poll() is None:
            context.window_manager.progress_update(int(100 * job.fraction))
            context.workspace.status_text_set(f"scenesem: {job.status} (Esc cancels)")
            _redraw(context)
            return {"PASS_THROUGH"}
        self._end(context)
        try:
            return self._finish(context, job)
        except AddonError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}


class SEQUENCER_OT_scenesem_import(bpy.types.Operator, ImportHelper):
    """Add the scenes of a timeline (any format scenesem reads) as strips and markers"""

    bl_idname = "sequencer.scenesem_import"
    bl_label = "Import Scenes"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012

    filter_glob: StringProperty(default=TIMELINES, options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        source = Path(bpy.path.abspath(self.filepath))
        try:
            if not source.exists():
                raise AddonError(f"{source}: no such file")
            with tempfile.TemporaryDirectory(prefix="scenesem-import-") as tmp:
                table_path = Path(tmp) / "scenes.json"
                argv = [_scenesem(context), "convert", str(source), "-o", str(table_path)]
                if source.suffix.lower() in (".edl", ".csv"):  # they carry no rate
                    argv += ["--fps", rate_text(strips.scene_rate(context.scene))]
                runner.run(argv, f"reading {source.name}")
                table = read_scene_list(table_path, source.name)
            made = strips.add_scene_list(context.scene, table, source.name)
        except AddonError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self.report({"INFO"}, f"scenesem: {len(made)} clips from {source.name}")
        return {"FINISHED"}


class SEQUENCER_OT_scenesem_export(bpy.types.Operator, ExportHelper):
    """Write the movie and sound strips and markers as a timeline (any format scenesem writes)"""

    bl_idname = "sequencer.scenesem_export"
    bl_label = "Export Scenes"

    filename_ext = ".otio"
    check_extension = False  # the extension picks the format: .otio .edl .xml .kdenlive …
    filter_glob: StringProperty(default=TIMELINES, options={"HIDDEN"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        target = Path(bpy.path.abspath(self.filepath))
        scene = context.scene
        try:
            clips = strips.timeline_clips(scene)
            with tempfile.TemporaryDirectory(prefix="scenesem-export-") as tmp:
                table_path = Path(tmp) / "scenes.json"
                write_scene_list(table_path, scene.name, strips.scene_rate(scene), clips,
                                 {"tool": "scenesem Blender add-on"})
                runner.run([_scenesem(context), "convert", str(table_path), "-o",
                            str(target)], f"writing {target.name}")
        except AddonError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self.report({"INFO"}, f"scenesem: {len(clips)} clips written to {target.name}")
        return {"FINISHED"}


class SEQUENCER_OT_scenesem_report(bpy.types.Operator):
    """Open the HTML storyboard of the last cut in the web browser"""

    bl_idname = "sequencer.scenesem_report"
    bl_label = "Open Storyboard"

    def execute(self, context: bpy.types.Context) -> set[str]:
        path = context.scene.scenesem.last_report
        if not path or not os.path.isfile(path):
            self.report({"ERROR"}, "no storyboard: cut with 'Storyboard' on first")
            return {"CANCELLED"}
        bpy.ops.wm.url_open(url=Path(path).as_uri())
        return {"FINISHED"}


CLASSES = (SEQUENCER_OT_scenesem_cut, SEQUENCER_OT_scenesem_import,
           SEQUENCER_OT_scenesem_export, SEQUENCER_OT_scenesem_report)
