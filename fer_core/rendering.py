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


FONT = cv2.FONT_HERSHEY_SIMPLEX
# Labels stay legible when the whole image is shown on a phone (about 360 px wide): their letters are at
# least this share of the image's width tall, and taller on a large face.
MIN_TEXT_HEIGHT_OF_WIDTH = 1 / 40
TEXT_HEIGHT_OF_FACE = 0.16


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
        cv2.rectangle(out, (x, y), (x + w, y + h), color, max(thickness + 1, round(out.shape[1] / 300)))
        _label(out, text, face.box, color)
        if show_probs:
            _probability_bars(out, face, (x + w + 4, y), scale)
    return out


def _label(image: np.ndarray, text: str, box: tuple[int, int, int, int], color) -> None:
    """`text` in a filled block above the box (below it at the top edge), sized to be read on a phone.

    A label much wider than its face is broken into lines at its spaces, so that the labels of
    neighbouring faces in a group photo do not run into each other.
    """
    x, y, w, h = box
    height = max(12.0, image.shape[1] * MIN_TEXT_HEIGHT_OF_WIDTH, h * TEXT_HEIGHT_OF_FACE)
    scale = height / cv2.getTextSize("Hp", FONT, 1.0, 1)[0][1]
    thickness = max(1, round(scale * 1.6))
    lines = _wrap(text, max(w * 1.3, 1), scale, thickness)
    sizes = [cv2.getTextSize(line, FONT, scale, thickness) for line in lines]
    pad = max(2, round(height * 0.2))
    line_height = max(th + base for (_, th), base in sizes) + pad
    block_w = max(tw for (tw, _), _ in sizes) + 2 * pad
    block_h = line_height * len(lines) + pad
    top = y - block_h if y - block_h >= 0 else min(y + h, image.shape[0] - block_h)
    left = max(0, min(x, image.shape[1] - block_w))
    cv2.rectangle(image, (left, top), (left + block_w, top + block_h), color, cv2.FILLED)
    ink = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
    for i, (line, ((_, th), _)) in enumerate(zip(lines, sizes)):
        baseline = top + pad + i * line_height + th
        cv2.putText(image, line, (left + pad, baseline), FONT, scale, ink, thickness, cv2.LINE_AA)


def _wrap(text: str, width: float, scale: float, thickness: int) -> list[str]:
    """`text`'s words in lines of at most `width` pixels (a single word wider than that keeps its line)."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and cv2.getTextSize(candidate, FONT, scale, thickness)[0][0] <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines or [text]


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
