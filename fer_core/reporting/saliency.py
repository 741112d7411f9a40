"""Why a face got its label: an occlusion map of the parts of the face the model relied on.

`occlusion_map` hides one small square of the face at a time (filled with the face's mean gray) and
asks the classifier again; where hiding a square lowers the probability of the face's label most,
the model relied on that part. Occlusion needs nothing but `predict_batch`, so it explains exactly
what the app serves: any model file, ensembles and mirror views included (Grad-CAM would need the
gradients of one particular network inside them).

Cost: every square is one more face through the model, all in one batch: about 100 faces' work per
map with the default 12-pixel squares moved 4 pixels at a time over the 48x48 input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.model.preprocess import FACE_SIZE, to_face_input


class Classifier(Protocol):
    def predict_batch(self, faces: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Saliency:
    label: str  # the emotion explained
    weights: np.ndarray  # (height, width) of the face crop, 0..1: 1 where hiding lowers the label's probability most
    probability: float  # the label's probability on the whole face
    variants: int  # occluded faces classified
    seconds: float  # what the map cost

    def inside_outside(self, box: tuple[int, int, int, int]) -> tuple[float, float]:
        """Mean weight inside and outside `box` (x, y, w, h in crop pixels)."""
        x, y, w, h = box
        inside = np.zeros(self.weights.shape, bool)
        inside[y : y + h, x : x + w] = True
        return float(self.weights[inside].mean()), float(self.weights[~inside].mean())


def occlusion_map(
    classifier: Classifier, face_bgr: np.ndarray, label: str | None = None, patch: int = 12, stride: int = 4
) -> Saliency:
    """The occlusion map of `face_bgr` (a face crop as the pipeline cuts it) for `label` (default: the top one)."""
    started = time.perf_counter()
    face = to_face_input(face_bgr)
    fill = np.uint8(round(float(face.mean())))
    corners = [(y, x) for y in range(0, FACE_SIZE - patch + 1, stride) for x in range(0, FACE_SIZE - patch + 1, stride)]
    batch = np.repeat(face[None], len(corners) + 1, axis=0)
    for i, (y, x) in enumerate(corners, start=1):
        batch[i, y : y + patch, x : x + patch] = fill
    probs = classifier.predict_batch(batch[..., None])
    index = int(np.argmax(probs[0])) if label is None else EMOTIONS.index(label)
    drops = np.clip(probs[0, index] - probs[1:, index], 0, None)
    heat = np.zeros((FACE_SIZE, FACE_SIZE), np.float64)
    covered = np.zeros((FACE_SIZE, FACE_SIZE), np.float64)
    for drop, (y, x) in zip(drops, corners):
        heat[y : y + patch, x : x + patch] += drop
        covered[y : y + patch, x : x + patch] += 1
    heat /= np.maximum(covered, 1)
    heat = heat / heat.max() if heat.max() > 0 else heat
    height, width = face_bgr.shape[:2]
    weights = np.clip(cv2.resize(heat.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC), 0, 1)
    return Saliency(EMOTIONS[index], weights, float(probs[0, index]), len(corners), time.perf_counter() - started)


def overlay(face_bgr: np.ndarray, saliency: Saliency, strength: float = 0.55) -> np.ndarray:
    """The face with the map laid over it: red where the model relied most, blue where not at all."""
    heat = cv2.applyColorMap(np.uint8(255 * saliency.weights), cv2.COLORMAP_JET)
    alpha = (strength * saliency.weights)[..., None]
    return np.uint8(face_bgr * (1 - alpha) + heat * alpha)


HOW_TO_READ = (
    "Each small square of the face was hidden in turn and the face classified again. Red marks the parts "
    "whose hiding lowered the chance of **{label}** most: the model relied on them. Blue parts did not matter."
)
