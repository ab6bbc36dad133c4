"""Report, thumbnails: the frame grabs the page shows, decoded once from the film.

`cut --report` hands over the thumbnails of its own decode; `scenesem report` decodes the
film here (`--video`, else the media the timeline references, even inside an .otioz).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from scenesem_otio.core.errors import MediaError
from scenesem_otio.report.gather import Film

if TYPE_CHECKING:
    from scenesem_otio.core.scenes import Scene
    from scenesem_otio.media.thumbnails import ShotThumbs


def thumbnails_for(film: Film, video: str | os.PathLike | None, *, progress: bool = False
                   ) -> dict[int, ShotThumbs]:
    """Decode the film (`video`, else the media the timeline references) for its shots."""
    if video is not None:
        return _thumbnails(film, Path(video), progress)
    if not film.media:
        raise MediaError(f"{film.source}: the timeline references no media file; give the "
                         f"film with --video FILM")
    with _local_media(film) as path:
        if not path.exists():
            raise MediaError(f"{film.source}: its media {film.media} is not there; give the "
                             f"film with --video FILM")
        return _thumbnails(film, path, progress)


@contextlib.contextmanager
def _local_media(film: Film) -> Iterator[Path]:
    """The media as a local file: absolute, beside the timeline, or bundled in an .otioz
    (copied out to a temp file for the decode: PyAV reads paths)."""
    import shutil
    import tempfile
    import zipfile

    media = Path(film.media or "")
    source = Path(film.source)
    if media.is_absolute():
        yield media
        return
    if source.suffix.lower() == ".otioz" and source.is_file():
        with zipfile.ZipFile(source) as zf:
            if media.as_posix() in zf.namelist():
                with tempfile.TemporaryDirectory(prefix="scenesem-report-") as tmp:
                    target = Path(tmp) / media.name
                    with zf.open(media.as_posix()) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    yield target
                    return
    yield (source if source.is_dir() else source.parent) / media


def _thumbnails(film: Film, video: Path, progress: bool) -> dict[int, ShotThumbs]:
    """Thumbnails of every shot, once the video is known to be the film that was cut."""
    from scenesem_otio.media.probe import probe
    from scenesem_otio.media.thumbnails import thumbnails_from_video

    facts = probe(video)
    if abs(float(facts.fps) - float(film.rate)) > 0.01:
        raise MediaError(f"{video}: {float(facts.fps):.3f} fps, but {film.source} was cut at "
                         f"{float(film.rate):.3f} fps: not the same film")
    expected = film.meta.get("n_frames")
    if expected is not None and int(expected) != facts.n_frames:
        raise MediaError(f"{video}: {facts.n_frames} frames, but {film.source} was cut from a "
                         f"film of {int(expected)} frames: not the same film")
    aspect = float(facts.display_aspect) if facts.width and facts.height else None
    return thumbnails_from_video(facts.path, film.shots, aspect=aspect, progress=progress,
                                 rotation=facts.rotation)


def scene_keyframe(film: Film, scene: Scene, thumbs: Mapping[int, ShotThumbs]
                   ) -> bytes | None:
    """The middle frame of the scene's middle shot: its face on the heat-map axes."""
    inside = [sh for sh in film.shots if scene.start <= sh.start < scene.end]
    if not inside:
        return None
    th = thumbs.get(inside[(len(inside) - 1) // 2].start)
    if th is None or not th.jpegs:
        return None
    return th.jpegs[len(th.jpegs) // 2]
