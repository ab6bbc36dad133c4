"""Analysis of a cut: the semantic distances between its scenes and their heat map.

Reads a written timeline (`cut --embeddings`), so it runs without the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scenesem_otio.core.scenes import Scene, scene_label

if TYPE_CHECKING:
    import numpy as np


@dataclass
class SceneDistances:
    """Scenes of a timeline written with `--embeddings` and their distance matrix."""

    name: str
    scenes: list[Scene]
    matrix: np.ndarray  # D_ij = (1 − cos) / 2

    @property
    def labels(self) -> list[str]:
        return [s.title or scene_label(i) for i, s in enumerate(self.scenes)]


def distances(timeline: Path) -> SceneDistances:
    """Distance matrix between the scenes of a timeline written with `cut --embeddings`."""
    import numpy as np

    from scenesem_otio.adapters.formats import read_timeline
    from scenesem_otio.adapters.timeline import scenes_from_timeline
    from scenesem_otio.core.errors import TimelineError
    from scenesem_otio.segment.decide import distance_matrix

    tl = read_timeline(timeline)
    scenes = scenes_from_timeline(tl, source=str(timeline))
    if not scenes:
        raise TimelineError(f"{timeline}: no scenes in it")
    if any(not s.embedding for s in scenes):
        raise TimelineError(f"{timeline}: scenes carry no embeddings; write it with "
                            f"`scenesem cut … --embeddings`")
    emb = np.asarray([s.embedding for s in scenes], dtype=np.float64)
    return SceneDistances(tl.name or Path(timeline).stem, scenes, distance_matrix(emb))


def write_heatmap(dist: SceneDistances, output: Path) -> None:
    """The distance matrix as an image (.png/.pdf/.svg), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scenesem_otio.core.colours import distance_colormap
    from scenesem_otio.core.fileio import atomic_path, check_writable

    check_writable(output, (".png", ".pdf", ".svg"))
    labels = dist.labels
    n = len(labels)
    size = min(4 + 0.25 * n, 30)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    im = ax.imshow(dist.matrix, cmap=distance_colormap(), vmin=0.0,
                   vmax=max(float(dist.matrix.max()), 1e-6))
    step = max(1, n // 40)
    ax.set_xticks(range(0, n, step), labels[::step], rotation=90, fontsize=7)
    ax.set_yticks(range(0, n, step), labels[::step], fontsize=7)
    ax.set_title(f"{dist.name}: semantic distance between scenes")
    fig.colorbar(im, ax=ax, label="D = (1 − cos) / 2")
    fig.tight_layout()
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format=output.suffix.lstrip(".").lower() or "png", dpi=120)
    plt.close(fig)
