"""The one path from an image to emotions: detect -> crop -> preprocess -> classify."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_core.faces.detection import Box, DetectorSettings, FaceDetector
from fer_core.labels import EMOTIONS, Reading
from fer_core.model.classifier import DEFAULT_MODEL, Classifier
from fer_core.model.preprocess import DEFAULT_MARGIN, crop_face, faces_to_batch


@dataclass
class Face(Reading):
    """One face found in an image: where it is and how likely each emotion is."""

    box: Box
    probs: np.ndarray = field(repr=False)  # (7,) in EMOTIONS order
    unsure_below: float = 0.0  # the model's threshold (Classifier.unsure_below)

    def to_dict(self) -> dict:
        x, y, w, h = self.box
        return {
            "box": {"x": x, "y": y, "width": w, "height": h},
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "unsure": self.unsure,
            "runner_up": self.runner_up,
            "probabilities": {name: round(float(p), 4) for name, p in zip(EMOTIONS, self.probs)},
        }


class EmotionPipeline:
    """A face detector and a classifier composed; shared by the pages, the CLI and the tests."""

    def __init__(self, detector: FaceDetector, classifier: Classifier, margin: float = DEFAULT_MARGIN):
        self.detector = detector
        self.classifier = classifier
        self.margin = margin

    @classmethod
    def load(
        cls,
        model_path: str | Path = DEFAULT_MODEL,
        settings: DetectorSettings = DetectorSettings(),
        tta: str = "none",
    ) -> EmotionPipeline:
        return cls(FaceDetector(settings), Classifier.load(model_path, tta=tta))

    def analyze(self, image: np.ndarray, settings: DetectorSettings | None = None) -> list[Face]:
        """Every face in a BGR image, largest first, each classified (all in one batch)."""
        return self.classify_boxes(image, self.detector.detect(image, settings))

    def classify_boxes(self, image: np.ndarray, boxes: list[Box]) -> list[Face]:
        batch = faces_to_batch([crop_face(image, box, self.margin) for box in boxes])
        probs = self.classifier.predict_batch(batch)
        unsure_below = self.classifier.unsure_below
        return [Face(tuple(int(v) for v in box), p, unsure_below) for box, p in zip(boxes, probs)]
