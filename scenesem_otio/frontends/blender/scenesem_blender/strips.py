"""Scene tables <-> VSE strips and markers, frame-exact.

A movie strip shows media frame `f` on timeline frame `origin + f`, where
`origin = frame_start - animation_offset_start`; its sound strips share that origin. Everything
is checked before the first strip is touched, so a refused cut or import changes nothing.
"""

from __future__ import annotations

import json
import math
import os
from fractions import Fraction

import bpy

from .scenelist import (
    COLOR_TAGS,
    MARKER_COLORS,
    AddonError,
    Clip,
    SceneList,
    nearest_text,
    scene_label,
    scene_title,
)

PROP = "scenesem_metadata"  # the CLI's metadata of the scene, as JSON (export gives it back)
MEDIA_START = "scenesem_media_start_frame"  # the media's start TC in frames (Blender: 0)


# ---------------------------------------------------------------- rates


def scene_rate(scene: bpy.types.Scene) -> Fraction:
    """The scene's exact rate: 24000/1001 whether stored as 24/1.001 or 24000/1001."""
    base = Fraction(scene.render.fps_base).limit_denominator(10000)
    return Fraction(scene.render.fps) / base


def set_scene_rate(scene: bpy.types.Scene, rate: Fraction) -> None:
    """fps=24000, fps_base=1001 for 23.976: exact, where 24/1.001 is a float's guess."""
    if rate.numerator <= 32767:
        scene.render.fps, scene.render.fps_base = rate.numerator, float(rate.denominator)
    else:
        scene.render.fps = round(rate)
        scene.render.fps_base = float(round(rate) / rate)


def same_rate(a: Fraction, b: Fraction) -> bool:
    return abs(float(a) - float(b)) < 1e-3


def media_path(strip: bpy.types.Sequence) -> str:
    raw = strip.filepath if strip.type == "MOVIE" else strip.sound.filepath
    return os.path.realpath(bpy.path.abspath(raw))


def origin(strip: bpy.types.Sequence) -> int:
    """Timeline frame of the strip's media frame 0."""
    return round(strip.frame_start) - strip.animation_offset_start


# ---------------------------------------------------------------- picture


def pixel_aspect(sample_aspect: Fraction) -> tuple[float, float]:
    """Blender's (pixel_aspect_x, pixel_aspect_y) for pixels `sample_aspect` as wide as tall,
    both at least 1 as Blender takes them: 64/45 (PAL 16:9) -> (64/45, 1), 8/9 (NTSC DV 4:3)
    -> (1, 9/8)."""
    if sample_aspect >= 1:
        return float(sample_aspect), 1.0
    return 1.0, float(1 / sample_aspect)


def set_pixel_aspect(scene: bpy.types.Scene, sample_aspect: Fraction) -> None:
    """Render pixels shaped as the media's: a movie strip at the media's stored size fills the
    frame pixel for pixel, the preview shows it unsqueezed and rendered films carry the shape
    (their SAR). Square media leaves the scene's as they are."""
    if sample_aspect != 1:
        scene.render.pixel_aspect_x, scene.render.pixel_aspect_y = pixel_aspect(sample_aspect)


def deinterlace(movie: bpy.types.MovieSequence, table: SceneList) -> None:
    """Interlaced media's strips show whole frames: Blender renders and writes frames, never
    fields, so woven fields would comb every movement in the preview and in the render."""
    if table.interlaced:
        movie.use_deinterlace = True


def turn_upright(scene: bpy.types.Scene, movie: bpy.types.MovieSequence, rotation: int
                 ) -> None:
    """A phone's portrait film is stored landscape with a display matrix that Blender's VSE
    does not read: turn the strip `rotation` degrees clockwise (Blender's positive radians
    turn it counter-clockwise) and scale the turned picture to fit the render, as fit_method
    "Scale to Fit" would have done for an upright picture; in a frame of the film's shape it
    fills the frame. Unturned media keeps the strip's own rotation and scale."""
    if rotation % 360 == 0:
        return
    element = movie.elements[0] if len(movie.elements) else None
    width, height = (element.orig_width, element.orig_height) if element else (0, 0)
    if rotation % 180:  # a quarter turn: the stored width stands upright
        width, height = height, width
    if width and height:
        render = scene.render
        scale = min(render.resolution_x / width, render.resolution_y / height)
        movie.transform.scale_x = movie.transform.scale_y = scale
    counter = -rotation % 360  # the same turn, counter-clockwise: Blender's sign
    movie.transform.rotation = math.radians(counter if counter <= 180 else counter - 360)


def match_picture(scene: bpy.types.Scene, movie: bpy.types.MovieSequence,
                  sounds: list[bpy.types.SoundSequence], table: SceneList) -> None:
    """After a cut: interlaced film deinterlaced, a phone's portrait film turned upright; a
    scene that holds only this film at its stored size (the size "Set Render Size" gives, a
    portrait film's lying on its side), with square pixels, takes the film's size as shown
    and its pixel shape (the scene's size is the user's: where it differs, the strip is
    scaled and its shape is not the scene's)."""
    deinterlace(movie, table)
    render = scene.render
    try:
        size = (int(table.metadata["width"]), int(table.metadata["height"]))
    except (KeyError, TypeError, ValueError):
        size = None
    stored = size[::-1] if size and table.rotation in (90, 270) else size
    if (size and film_only(scene, movie, sounds)
            and (render.resolution_x, render.resolution_y) == stored
            and render.pixel_aspect_x == render.pixel_aspect_y == 1):
        render.resolution_x, render.resolution_y = size
        set_pixel_aspect(scene, table.sample_aspect)
    turn_upright(scene, movie, table.rotation)


# ---------------------------------------------------------------- cut


def active_movie(scene: bpy.types.Scene) -> bpy.types.MovieSequence:
    """The active strip if it is a movie, else the only selected movie strip."""
    editor = scene.sequence_editor
    if editor is None:
        raise AddonError("no movie strip: add the film to the Sequencer first")
    active = editor.active_strip
    if active is not None and active.type == "MOVIE":
        return active
    selected = [s for s in editor.sequences_all if s.type == "MOVIE" and s.select]
    if len(selected) == 1:
        return selected[0]
    raise AddonError("no movie strip: select the film's movie strip (make it active)")


def movie_sounds(scene: bpy.types.Scene, movie: bpy.types.MovieSequence
                 ) -> list[bpy.types.SoundSequence]:
    """Sound strips of the same file, in sync with the movie and overlapping its range."""
    path, start = media_path(movie), origin(movie)
    return [s for s in scene.sequence_editor.sequences
            if s.type == "SOUND" and s.sound is not None and media_path(s) == path
            and origin(s) == start and s.frame_final_start < movie.frame_final_end
            and s.frame_final_end > movie.frame_final_start]


def match_rate(scene: bpy.types.Scene, movie: bpy.types.MovieSequence,
               sounds: list[bpy.types.SoundSequence], rate: Fraction | None,
               apply: bool = True) -> None:
    """A scene holding only this film takes its rate (with `apply`); any other scene must
    already have it. `new_movie` does not conform the scene, and a 25 fps film in a 24 fps
    scene would be cut on the right frames but play its sound out of step."""
    if rate is None or same_rate(scene_rate(scene), rate):
        return
    if film_only(scene, movie, sounds):
        if apply:
            set_scene_rate(scene, rate)
        return
    raise AddonError(f"the scene runs at {float(scene_rate(scene)):.3f} fps, the film at "
                     f"{float(rate):.3f} fps: set the scene's frame rate to the film's")


def film_only(scene: bpy.types.Scene, movie: bpy.types.MovieSequence,
              sounds: list[bpy.types.SoundSequence]) -> bool:
    """The scene's strips are this film's movie and sounds, nothing else."""
    ours = {movie.name, *(s.name for s in sounds)}
    return all(s.name in ours for s in scene.sequence_editor.sequences_all)


def movie_rate(movie: bpy.types.MovieSequence) -> Fraction | None:
    """The movie's rate as Blender probed it (a float: 23.976 -> 24000/1001)."""
    return Fraction(movie.fps).limit_denominator(1001) if movie.fps > 0 else None


def _tag(strip: bpy.types.Sequence, clip: Clip, label: str) -> None:
    if clip.media_start is not None:
        strip[MEDIA_START] = clip.media_start
    strip.color_tag = COLOR_TAGS.get(clip.marker_color.upper(), "COLOR_04")
    meta = clip.metadata
    strip["scenesem_scene"] = label
    if meta.get("distance_prev") is not None:
        strip["scenesem_delta"] = float(meta["distance_prev"])
    if meta.get("boundary_score") is not None:
        strip["scenesem_boundary_score"] = float(meta["boundary_score"])
    strip["scenesem_nearest"] = nearest_text(meta)
    strip[PROP] = json.dumps(meta)


def split_at_scenes(scene: bpy.types.Scene, movie: bpy.types.MovieSequence,
                    sounds: list[bpy.types.SoundSequence], table: SceneList
                    ) -> list[bpy.types.MovieSequence]:
    """Split the movie and its sounds where each scene starts; name, tag and mark the pieces.

    Returns the movie pieces, one per scene the strip shows.
    """
    clips = sorted(table.video, key=lambda c: c.start)
    if not clips:
        raise AddonError("the cut found no scenes")
    zero = origin(movie)
    lo, hi = movie.frame_final_start, movie.frame_final_end
    shown = [c for c in clips if zero + c.start < hi and zero + c.end > lo]
    if not shown:
        raise AddonError("the cut's scenes lie outside the movie strip")
    pieces: list[bpy.types.MovieSequence] = []
    rest: list[bpy.types.Sequence] = [movie, *sounds]
    for k, clip in enumerate(shown):
        frame = zero + clip.start
        if k and lo < frame < hi:  # cut here: the right parts carry on
            rest = [r for r in (_split(s, frame) for s in rest) if r is not None]
        piece, *piece_sounds = rest
        index = _index(clip, clips.index(clip))
        piece.name = clip.name or scene_title(index)
        _tag(piece, clip, scene_label(index))
        for sound in piece_sounds:
            if sound.frame_final_start < piece.frame_final_end:  # it plays in this scene
                sound.name = f"{piece.name} sound"
                _tag(sound, clip, scene_label(index))
        pieces.append(piece)
        if clip.marker is not None:
            scene.timeline_markers.new(clip.marker, frame=max(frame, lo))
    return pieces


def _index(clip: Clip, default: int) -> int:
    """The scene's number as the CLI counted it, else its place here."""
    try:
        return int(clip.metadata.get("index", default))
    except (TypeError, ValueError):
        return default


def _split(strip: bpy.types.Sequence, frame: int) -> bpy.types.Sequence | None:
    """The part of `strip` from `frame` on (split off when `frame` falls inside it), or None
    when the strip ends before `frame`."""
    if frame >= strip.frame_final_end:
        return None
    if frame <= strip.frame_final_start:
        return strip
    return strip.split(frame=frame, split_method="SOFT")


# ---------------------------------------------------------------- import


def add_scene_list(scene: bpy.types.Scene, table: SceneList, source: str
                   ) -> list[bpy.types.MovieSequence]:
    """Movie strips (with their sound) and markers for every video clip of the table."""
    clips = [c for c in table.video if c.end > c.start]
    if not clips:
        raise AddonError(f"{source}: no video clips")
    missing = sorted({c.media or "(no media)" for c in clips
                      if not c.media or not os.path.isfile(c.media)})
    if missing:
        raise AddonError(f"{source}: media not found: {missing[0]}"
                         + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
    editor = scene.sequence_editor_create()
    empty = len(editor.sequences_all) == 0
    if not empty and table.fps is not None and not same_rate(scene_rate(scene), table.fps):
        raise AddonError(f"{source}: timeline at {float(table.fps):.3f} fps, the scene at "
                         f"{float(scene_rate(scene)):.3f} fps")
    tracks = sorted({c.track for c in clips})
    first = 1 + max((s.channel for s in editor.sequences_all), default=0)
    scratch = first + 2 * len(tracks)
    if scratch + 1 > 128:
        raise AddonError(f"{source}: not enough free channels above the existing strips")
    if empty and table.fps is not None:  # an empty scene takes the timeline's rate
        set_scene_rate(scene, table.fps)
    if empty and table.metadata.get("width") and table.metadata.get("height"):
        scene.render.resolution_x = int(table.metadata["width"])
        scene.render.resolution_y = int(table.metadata["height"])
        set_pixel_aspect(scene, table.sample_aspect)
    start = scene.frame_start
    placed: dict[int, int] = {}
    made = []
    for clip in clips:
        at = start + (clip.timeline_frame if clip.timeline_frame is not None
                      else placed.get(clip.track, 0))
        placed[clip.track] = at - start + clip.end - clip.start
        channel = first + 2 * tracks.index(clip.track)
        movie = _placed(editor.sequences.new_movie(clip.name or "clip", clip.media,
                                                   channel=scratch, frame_start=at - clip.start),
                        clip, at, channel)
        _tag(movie, clip, scene_label(_index(clip, len(made))))
        deinterlace(movie, table)
        turn_upright(scene, movie, table.rotation)
        sound = editor.sequences.new_sound(f"{movie.name} sound", clip.media,
                                           channel=scratch, frame_start=at - clip.start)
        if sound.sound is None or sound.sound.samplerate == 0:  # the file has no audio
            editor.sequences.remove(sound)
        else:
            in_sync(sound, movie)
            _tag(_placed(sound, clip, at, channel + 1), clip, movie["scenesem_scene"])
        if clip.marker is not None:
            scene.timeline_markers.new(clip.marker, frame=at)
        made.append(movie)
    if empty:
        scene.frame_start = min(m.frame_final_start for m in made)
        scene.frame_end = max(m.frame_final_end for m in made) - 1
    return made


def in_sync(sound: bpy.types.SoundSequence, movie: bpy.types.MovieSequence) -> None:
    """Put the sound's media frame 0 on the movie's, where Blender's own Add Movie (with
    sound) puts it. The API's `new_sound` moves the strip later by the audio stream's start
    time in whole frames, but the movie strip starts at the first video frame, not at time 0:
    in Blender 3.4 the click of a flash played 13 frames after it in an MPEG-PS .mpg (streams
    at 0.53 s), 69 in an MPEG-TS (2.79 s), in sync in an .mp4 (0 s)."""
    sound.frame_start = origin(movie)


def _placed(strip: bpy.types.Sequence, clip: Clip, at: int, channel: int
            ) -> bpy.types.Sequence:
    """Trim on the scratch channel first, then move: an untrimmed strip overlapping its
    neighbours would be pushed to another channel."""
    strip.frame_final_start = at
    strip.frame_final_end = at + clip.end - clip.start
    strip.channel = channel
    return strip


# ---------------------------------------------------------------- export


# Blender's channel layouts (Sound.channels) -> channel counts, for the writers' audio format.
SOUND_CHANNELS = {"MONO": 1, "STEREO": 2, "STEREO_LFE": 3, "SURROUND4": 4, "SURROUND5": 5,
                  "SURROUND51": 6, "SURROUND61": 7, "SURROUND71": 8}


def timeline_clips(scene: bpy.types.Scene) -> list[Clip]:
    """The scene's movie and sound strips as table rows: one track per channel (the picture's
    channels first, then the sound's), markers at the movies' starts, each strip's own media
    range and place, so sound trimmed or slid apart from its picture (a J/L cut, music from
    another file) is written as it plays. The media's start timecode (as the cut or import
    tagged it on any strip of that file) is kept."""
    editor = scene.sequence_editor
    timed = [s for s in (editor.sequences if editor else [])
             if s.type == "MOVIE" or (s.type == "SOUND" and s.sound is not None)]
    if not any(s.type == "MOVIE" for s in timed):
        raise AddonError("nothing to export: the Sequencer has no movie strips")
    markers = {m.frame: m.name for m in scene.timeline_markers}
    video = sorted({s.channel for s in timed if s.type == "MOVIE"})
    sound = sorted({s.channel for s in timed if s.type == "SOUND"})
    starts = {media_path(s): s[MEDIA_START] for s in timed if MEDIA_START in s}
    zero = min(scene.frame_start, *(s.frame_final_start for s in timed))
    clips = []
    for strip in sorted(timed, key=lambda s: (s.type != "MOVIE", s.channel, s.frame_final_start)):
        track = video.index(strip.channel) if strip.type == "MOVIE" \
            else len(video) + sound.index(strip.channel)
        clip = _row(strip, track, strip.frame_final_start - zero)
        clip.media_start = strip.get(MEDIA_START, starts.get(clip.media))
        if strip.type == "MOVIE":
            clip.marker = markers.get(strip.frame_final_start)
        clips.append(clip)
    return clips


def _row(strip: bpy.types.Sequence, track: int, at: int) -> Clip:
    """One strip as a row: the media frames it plays (from the media's frame 0), its place."""
    start = strip.frame_final_start - origin(strip)
    try:
        meta = json.loads(strip.get(PROP, "{}"))
    except ValueError:
        meta = {}
    clip = Clip(name=strip.name, start=start, end=start + strip.frame_final_duration,
                media=media_path(strip), track=track, timeline_frame=at,
                marker_color=MARKER_COLORS.get(strip.color_tag, "GREEN"),
                metadata=meta if isinstance(meta, dict) else {},
                media_frames=strip.frame_duration)
    if strip.type == "SOUND":
        clip.kind = "Audio"
        clip.audio_channels = SOUND_CHANNELS.get(strip.sound.channels)
        clip.sample_rate = strip.sound.samplerate or None
    return clip
