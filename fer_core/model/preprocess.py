"""Turning a face region into the model's input.

Training and inference both call `to_face_input`, so the two can never drift apart:
a FER2013 image is already a 48x48 grayscale face and passes through unchanged in shape;
a face found in a photo is cropped with `crop_face` and then goes through the same function.
"""

from __future__ import annotations

import cv2
import numpy as np

FACE_SIZE = 48

# FER2013 faces are framed like an OpenCV Haar box: run on (upscaled, padded) FER2013 test
# images, the cascade's box is a median 98% of the crop's side and centred on it
# (tests/test_preprocess.py measures it). So a photo's face is cropped at the box itself.
DEFAULT_MARGIN = 0.0


# A face under 48 px (a small face in a photo) is enlarged bicubically: sharper than bilinear and closer to
# FER2013's own 48 px faces, so the models read it right more often (bench/small_faces.py measures it;
# docs/detection.md has the figures).
ENLARGE = cv2.INTER_CUBIC

# Test-time augmentation: the (dx, dy) pixel shifts of each face that are classified, each also
# mirrored, and the probabilities averaged. More views cost proportionally more time per face.
TTA_VIEWS: dict[str, tuple[tuple[int, int], ...]] = {
    "none": (),
    "flip": ((0, 0),),
    "shift-flip": ((0, 0), (-3, 0), (3, 0), (0, -3), (0, 3)),  # 10 views, like ten-crop
}


def to_face_input(face: np.ndarray, enlarge: int = ENLARGE) -> np.ndarray:
    """Return `face` (gray or BGR, any size) as a 48x48 uint8 grayscale image: shrunk by averaging pixel
    areas, enlarged with the OpenCV interpolation `enlarge`."""
    if face.ndim == 3 and face.shape[2] == 1:
        face = face[:, :, 0]
    if face.ndim == 3:
        face = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    if face.dtype != np.uint8:
        face = np.clip(face, 0, 255).astype(np.uint8)
    if face.shape != (FACE_SIZE, FACE_SIZE):
        shrinking = face.shape[0] > FACE_SIZE
        face = cv2.resize(
            face,
            (FACE_SIZE, FACE_SIZE),
            interpolation=cv2.INTER_AREA if shrinking else enlarge,
        )
    return face


def crop_face(image: np.ndarray, box: tuple[int, int, int, int], margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """Cut a square region around `box` (x, y, w, h), grown by `margin` of its size on each side.

    Parts of the square that fall outside the image are filled by replicating the border,
    so a face at the edge of a photo keeps the framing the model was trained on.
    """
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = x0 + int(round(side)), y0 + int(round(side))
    height, width = image.shape[:2]
    pad = max(0, -x0, -y0, x1 - width, y1 - height)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    return image[y0:y1, x0:x1]


def faces_to_batch(faces: list[np.ndarray]) -> np.ndarray:
    """Stack face crops into the model's input batch: (N, 48, 48, 1) uint8."""
    if not faces:
        return np.zeros((0, FACE_SIZE, FACE_SIZE, 1), np.uint8)
    return np.stack([to_face_input(face) for face in faces])[..., np.newaxis]
