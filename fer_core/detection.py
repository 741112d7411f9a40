"""Finding faces with OpenCV's Haar frontal-face cascade."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, width, height in image pixels


@dataclass(frozen=True)
class DetectorSettings:
    scale_factor: float = 1.1
    min_neighbors: int = 5
    # Smallest face searched for, as a fraction of the image's shorter side.
    min_face_fraction: float = 0.05
    # Detection runs on a copy whose longer side is at most this; boxes are mapped back.
    max_side: int = 640


class DetectorError(RuntimeError):
    """The Haar cascade file is missing (e.g. opencv-python-headless 5.x, which ships none)."""


class FaceDetector:
    """Haar cascade face detection on any image size.

    One cascade object is shared by all callers (photo page sessions, the live callback);
    OpenCV's cascade is not safe to call from two threads at once, hence the lock.
    """

    def __init__(self, settings: DetectorSettings = DetectorSettings()):
        self.settings = settings
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise DetectorError(f"cannot load the Haar cascade {path}; install opencv-python-headless 4.x")
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, settings: DetectorSettings | None = None) -> list[Box]:
        """Boxes of the faces in `image` (BGR or grayscale), largest first."""
        settings = settings or self.settings
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        height, width = gray.shape
        scale = min(1.0, settings.max_side / max(height, width))
        if scale < 1.0:
            gray = cv2.resize(
                gray, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
            )
        gray = cv2.equalizeHist(gray)
        min_side = max(24, int(settings.min_face_fraction * min(gray.shape)))
        if min(gray.shape) < min_side:
            return []
        with self._lock:
            found = self._cascade.detectMultiScale(
                gray,
                scaleFactor=settings.scale_factor,
                minNeighbors=settings.min_neighbors,
                minSize=(min_side, min_side),
            )
        boxes = [tuple(int(round(v / scale)) for v in box) for box in found]
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)
