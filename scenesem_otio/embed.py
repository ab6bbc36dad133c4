"""Embed stage: a film's shots -> clips -> backbone -> head -> one unit vector per shot.

Both `pipeline` (cut) and `train/` (calibration, joint training, pseudo-labels) embed films
through these functions, so a film is embedded the same way for training as for cutting.
Heavy modules are imported inside functions so that importing this module stays cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scenesem_otio.core.config import SamplingOptions, ShotOptions
from scenesem_otio.core.scenes import Shot, VideoInfo

if TYPE_CHECKING:
    import numpy as np

    from scenesem_otio.media.sampling import KnownShots
    from scenesem_otio.media.stream import SinglePass
    from scenesem_otio.media.thumbnails import ShotThumbs
    from scenesem_otio.model.embedder import SceneEmbedder


@dataclass
class FilmEmbedding:
    """A film's shots and their embeddings: what segmentation (and calibration) needs."""

    info: VideoInfo
    shots: list[Shot]
    shot_embeddings: np.ndarray  # [n_shots, E], unit rows
    n_clips: int
    clips_per_s: float
    frames_decoded: int
    thumbnails: dict[int, ShotThumbs] | None = None  # by shot start, for the report
    shot_colours: np.ndarray | None = None  # [n_shots, 64] colour histograms (media.colour)


def shot_source(info: VideoInfo, shots: ShotOptions, sampling: SamplingOptions,
                thumbnails: bool = False, device: str = "cpu") -> SinglePass | KnownShots:
    """Detected in the single decode pass, or known up front (an edit, or given cut frames).

    `thumbnails`: the source also keeps each shot's first/middle/last frame (`cut --report`).
    """
    from scenesem_otio.core.scenes import shots_from_cuts
    from scenesem_otio.media.sampling import KnownShots
    from scenesem_otio.media.stream import single_pass

    if shots.edit is not None:
        from scenesem_otio.adapters.formats import read_timeline
        from scenesem_otio.adapters.timeline import cuts_from_timeline

        timeline = read_timeline(shots.edit, rate=info.fps)
        cuts = cuts_from_timeline(timeline, info, source=str(shots.edit))
        return KnownShots(info, shots_from_cuts(cuts, info.n_frames), sampling,
                          thumbnails=thumbnails)
    if shots.cuts is not None:
        return KnownShots(info, shots_from_cuts(list(shots.cuts), info.n_frames), sampling,
                          thumbnails=thumbnails)
    return single_pass(info, shots, sampling, thumbnails=thumbnails, device=device)


def embed_clips(embedder: SceneEmbedder, clips: Iterable[tuple[int, np.ndarray]], *,
                batch_size: int, advance: Callable[[int], None] | None = None,
                position: Callable[[], int] | None = None
                ) -> tuple[np.ndarray, np.ndarray, float]:
    """Embed `(index, uint8 clip)` pairs in batches -> ([N, E] in index order, [N, C] colour
    histograms of the same clips, clips/s).

    Decoding runs ahead in a thread (`prefetch`); `advance(position() - shown)` moves the
    progress bar after each batch.
    """
    import numpy as np

    from scenesem_otio.core.prefetch import prefetch
    from scenesem_otio.media.colour import COLOUR_DIM, colour_histogram

    rows: dict[int, np.ndarray] = {}
    colours: dict[int, np.ndarray] = {}
    start = time.perf_counter()
    shown = 0
    batch: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        nonlocal shown
        vectors = embedder.embed(np.stack([c for _, c in batch]), batch_size=len(batch))
        rows.update(zip((i for i, _ in batch), vectors))
        colours.update((i, colour_histogram(c)) for i, c in batch)
        batch.clear()
        if advance is not None:
            now = position() if position is not None else len(rows)
            advance(now - shown)
            shown = now

    for item in prefetch(clips, depth=max(2 * batch_size, 8)):
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    rate = len(rows) / max(time.perf_counter() - start, 1e-9)
    out = np.zeros((len(rows), embedder.dim), np.float32)
    hist = np.zeros((len(rows), COLOUR_DIM), np.float32)
    for i, v in rows.items():
        out[i] = v
        hist[i] = colours[i]
    return out, hist, rate


def embed_film(video: str | Path, embedder: SceneEmbedder, shots: ShotOptions = ShotOptions(),
               *, batch_size: int = 8, progress: bool = True,
               thumbnails: bool = False) -> FilmEmbedding:
    """probe -> shots -> clips -> shot embeddings, in one decode pass through the file."""
    from scenesem_otio.core.progress import progress_bar
    from scenesem_otio.core.vectors import shot_embeddings
    from scenesem_otio.media.probe import probe

    info = probe(video)
    backbone = embedder.backbone
    sampling = embedder.meta.sampling.resolved(backbone.num_frames, backbone.image_size)
    source = shot_source(info, shots, sampling, thumbnails, str(embedder.device))
    numbered = ((i, clip) for i, (_, clip) in enumerate(source.clips()))
    with progress_bar("embedding", total=info.n_frames, unit="frames",
                      enabled=progress) as advance:
        clip_emb, clip_colours, rate = embed_clips(
            embedder, numbered, batch_size=batch_size, advance=advance,
            position=lambda: source.stats.frames_decoded)
    owners = [p.shot for p in source.plans]
    emb = shot_embeddings(clip_emb, owners, len(source.shots))
    colours = shot_embeddings(clip_colours, owners, len(source.shots))  # mean, normalised
    thumbs = source.thumbs.finish(info.n_frames) if source.thumbs is not None else None
    return FilmEmbedding(info, source.shots, emb, len(source.plans), rate,
                         source.stats.frames_decoded, thumbs, colours)
