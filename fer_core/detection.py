"""Finding faces: OpenCV's Haar frontal-face cascade, set loose, then every box checked.

1. Search: the default cascade on a copy of the image rescaled so that the smallest face asked for
   (`min_face_fraction` of the shorter side) is `min_window` pixels, contrast-equalised locally
   (CLAHE: a global histogram stretch distorts a face on a plain wall), with `min_neighbors`
   low so that small and tightly cut faces (FER2013-style crops) are not lost.
2. Close-ups: the largest scales are searched again on a border-padded copy, so a face that
   fills the frame or is cut by its edge (forehead, chin) is still found.
3. Check: a box reaches the user only if a second cascade (`alt2`) also fires on it when its
   region is rescanned closely, and the face verifier (`face_verifier.py`: HOG + a linear model
   trained on FER2013 faces against face-free crops) scores it as a face.
4. Merge: overlapping boxes of one face become one, the best-checked kept; a box around a smaller
   face (a whole head, seen as a face at a larger scale) is dropped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import cv2
import numpy as np

from fer_core.face_verifier import VERIFIER_PATH, FaceVerifier

Box = tuple[int, int, int, int]  # x, y, width, height in image pixels; may reach past the edge for a cut face

_CHECK_SIDE = 48  # a box's region is rescanned with the box rescaled to this many pixels


@dataclass(frozen=True)
class DetectorSettings:
    scale_factor: float = 1.1
    # Raw cascade hits a box needs besides its own; kept low because every box is checked after.
    min_neighbors: int = 2
    # Smallest face searched for, as a fraction of the image's shorter side.
    min_face_fraction: float = 0.05
    # The image is rescaled so that the smallest face searched for is this many pixels (the cascade's
    # window is 24; faces barely that size are often missed, so small faces are searched upscaled).
    min_window: int = 30
    # ... but the rescaled copy's longer side is at most this (a cap on the time; it does not bind
    # at the default 5% for photos up to 16:9; live video lowers it).
    max_side: int = 1280
    # Least verifier log-odds for a box to count as a face; higher rejects more (and misses more).
    min_face_score: float = 1.0


class DetectorError(RuntimeError):
    """The Haar cascade or the face verifier file is missing (e.g. opencv-python-headless 5.x ships no cascades)."""


def _cascade(name: str) -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + name
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise DetectorError(f"cannot load the Haar cascade {path}; install opencv-python-headless 4.x")
    return cascade


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    overlap_w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    overlap_h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = overlap_w * overlap_h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _same_face(a: Box, b: Box) -> bool:
    """Two boxes of one face: overlapping well, or one's centre inside the other at a similar size."""
    if iou(a, b) > 0.3:
        return True
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    similar = max(aw, bw) <= 2 * min(aw, bw)
    return similar and (bx <= ax + aw / 2 <= bx + bw and by <= ay + ah / 2 <= by + bh)


def _inside(small: Box, big: Box) -> bool:
    """`small` is under half `big`'s size and centred inside it."""
    (sx, sy, sw, sh), (bx, by, bw, bh) = small, big
    return 2 * sw < bw and bx <= sx + sw / 2 <= bx + bw and by <= sy + sh / 2 <= by + bh


class FaceDetector:
    """Haar cascade face detection on any image size, with every box checked.

    One detector is shared by all callers (photo page sessions, the live callback); OpenCV's
    cascades are not safe to call from two threads at once, hence the lock.
    """

    def __init__(self, settings: DetectorSettings = DetectorSettings()):
        self.settings = settings
        self._cascade = _cascade("haarcascade_frontalface_default.xml")
        self._second = _cascade("haarcascade_frontalface_alt2.xml")
        if not VERIFIER_PATH.is_file():
            raise DetectorError(f"face verifier {VERIFIER_PATH} not found; restore it with `git checkout -- models/`")
        self.verifier = FaceVerifier.load(VERIFIER_PATH)
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, settings: DetectorSettings | None = None) -> list[Box]:
        """Boxes of the faces in `image` (BGR or grayscale), largest first."""
        return self._detect(image, settings or self.settings, close_ups=True)

    def _detect(self, image: np.ndarray, settings: DetectorSettings, close_ups: bool) -> list[Box]:
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if min(gray.shape) < 24:
            return []
        with self._lock:
            boxes = self._search(gray, settings) + (self._search_close_ups(gray, settings) if close_ups else [])
            boxes = [box for box in boxes if self._second_cascade_agrees(gray, box)]
            scores = self.verifier.check(gray, boxes)
        kept: list[Box] = []
        for score, box in sorted(zip(scores, boxes), key=lambda pair: -pair[0]):
            if score >= settings.min_face_score and not any(_same_face(box, other) for other in kept):
                kept.append(box)
        # A face holds no other face: a box around a smaller face is the cascade seeing a head as a face.
        kept = [box for box in kept if not any(_inside(other, box) for other in kept)]
        return sorted(kept, key=lambda b: b[2] * b[3], reverse=True)

    def detect_near(self, image: np.ndarray, boxes: list[Box], settings: DetectorSettings | None = None) -> list[Box]:
        """Faces near `boxes` only (a video's faces of the previous analysis): each box's region, twice its
        size, is searched for a face from half to twice the box's size, with the same checks as `detect`
        (the face fills half the region, so no close-up pass is needed).
        Far cheaper than a whole frame; a face that appears elsewhere needs a call of `detect`."""
        settings = replace(settings or self.settings, min_face_fraction=0.25, max_side=10_000)
        height, width = image.shape[:2]
        found: list[Box] = []
        for x, y, w, h in boxes:
            x0, y0 = max(0, x - w // 2), max(0, y - h // 2)
            x1, y1 = min(width, x + w + w // 2), min(height, y + h + h // 2)
            if x1 - x0 < 24 or y1 - y0 < 24:
                continue
            for bx, by, bw, bh in self._detect(image[y0:y1, x0:x1], settings, close_ups=False):
                box = (bx + x0, by + y0, bw, bh)
                if not any(_same_face(box, other) for other in found):
                    found.append(box)
        return sorted(found, key=lambda b: b[2] * b[3], reverse=True)

    def _scan(self, gray: np.ndarray, scale: float, min_side: int, settings: DetectorSettings) -> list[Box]:
        height, width = gray.shape
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        if min(small.shape) < min_side:
            return []
        found = self._cascade.detectMultiScale(
            self._clahe.apply(small),
            scaleFactor=settings.scale_factor,
            minNeighbors=settings.min_neighbors,
            minSize=(min_side, min_side),
        )
        return [tuple(int(round(v / scale)) for v in box) for box in found]

    def _search(self, gray: np.ndarray, settings: DetectorSettings) -> list[Box]:
        smallest_face = max(1.0, settings.min_face_fraction * min(gray.shape))
        scale = min(settings.min_window / smallest_face, settings.max_side / max(gray.shape))
        return self._scan(gray, scale, settings.min_window, settings)

    def _search_close_ups(self, gray: np.ndarray, settings: DetectorSettings) -> list[Box]:
        """Faces filling the picture, on a copy padded by a quarter of its shorter side on every side and
        shrunk so that side is 2 x `min_window` (60 px): the cascade's 24 px window is then a face of
        60% of the picture's shorter side, and larger ones are searched up from it."""
        pad = min(gray.shape) // 4
        padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        scale = 2 * settings.min_window / min(padded.shape)
        boxes = self._scan(padded, scale, 24, settings)
        return [(x - pad, y - pad, w, h) for x, y, w, h in boxes]

    def _second_cascade_agrees(self, gray: np.ndarray, box: Box) -> bool:
        """Does the alt2 cascade fire near the box's centre, at about its size, when its region is rescanned?"""
        x, y, w, h = box
        margin = w // 3 + 1
        scale = _CHECK_SIDE / w
        x0, y0 = x - margin, y - margin
        region = gray[max(0, y0) : y + h + margin, max(0, x0) : x + w + margin]
        # pad where the region reaches past the image's edge, so the box stays centred
        left, top = max(0, -x0), max(0, -y0)
        right, bottom = max(0, x0 + w + 2 * margin - gray.shape[1]), max(0, y0 + h + 2 * margin - gray.shape[0])
        if region.size == 0:
            return False
        region = cv2.copyMakeBorder(region, top, bottom, left, right, cv2.BORDER_REPLICATE)
        region = cv2.resize(
            region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
        found = self._second.detectMultiScale(
            self._clahe.apply(region), scaleFactor=1.05, minNeighbors=0, minSize=(36, 36), maxSize=(64, 64)
        )
        centre = (margin + w / 2) * scale
        return any(abs(bx + bw / 2 - centre) < 8 and abs(by + bh / 2 - centre) < 8 for bx, by, bw, bh in found)
