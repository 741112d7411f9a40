"""Drawing boxes, labels and confidence onto images."""

from __future__ import annotations

import cv2
import numpy as np

from fer_core.labels import EMOTION_COLORS
from fer_core.pipeline import Face


def _bgr(hex_color: str) -> tuple[int, int, int]:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return b, g, r


COLORS_BGR = {name: _bgr(color) for name, color in EMOTION_COLORS.items()}


def caption(face: Face) -> str:
    return f"{face.label} {face.confidence:.0%}"


def draw_faces(
    image: np.ndarray, faces: list[Face], captions: list[str] | None = None, show_probs: bool = False
) -> np.ndarray:
    """A copy of the BGR `image` with each face boxed and captioned in its emotion's colour."""
    out = image.copy()
    captions = captions or [caption(face) for face in faces]
    scale = max(0.4, min(out.shape[:2]) / 900)
    thickness = max(1, round(2 * scale))
    for face, text in zip(faces, captions):
        x, y, w, h = face.box
        color = COLORS_BGR[face.label]
        cv2.rectangle(out, (x, y), (x + w, y + h), color, thickness + 1)
        _label(out, text, (x, y), color, scale, thickness)
        if show_probs:
            _probability_bars(out, face, (x + w + 4, y), scale)
    return out


def _label(image: np.ndarray, text: str, corner: tuple[int, int], color, scale: float, thickness: int) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    x, y = corner
    top = y - th - base - 4 if y - th - base - 4 >= 0 else y
    cv2.rectangle(image, (x, top), (x + tw + 6, top + th + base + 4), color, cv2.FILLED)
    ink = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
    cv2.putText(image, text, (x + 3, top + th + 2), font, scale, ink, thickness, cv2.LINE_AA)


def _probability_bars(image: np.ndarray, face: Face, corner: tuple[int, int], scale: float) -> None:
    from fer_core.labels import EMOTIONS

    x, y = corner
    row = max(10, round(16 * scale))
    width = round(80 * scale)
    for i, (name, p) in enumerate(zip(EMOTIONS, face.probs)):
        top = y + i * row
        cv2.rectangle(image, (x, top), (x + int(width * float(p)), top + row - 3), COLORS_BGR[name], cv2.FILLED)
        cv2.putText(
            image,
            name[:3],
            (x + width + 3, top + row - 4),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale * 0.45,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
