"""Drawing boxes, labels and confidence onto images."""

from __future__ import annotations

import cv2
import numpy as np

from fer_core.faces.detection import Box
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
    line = max(2, round(out.shape[1] / 300))  # a box edge still a pixel wide on a phone
    for face, text in zip(faces, captions):
        x, y, w, h = face.box
        color = COLORS_BGR[face.label]
        cv2.rectangle(out, (x, y), (x + w, y + h), color, line)
        _label(out, text, face.box, color, _room_for_label(face.box, [f.box for f in faces], out.shape[1]))
        if show_probs:
            _probability_bars(out, face)
    return out


def _room_for_label(box: Box, boxes: list[Box], image_width: int) -> int:
    """Pixels from the box's left edge to the nearest face on its right at about the same height, or the edge."""
    x, y, _, h = box
    rights = [other[0] for other in boxes if other[0] > x and abs(other[1] - y) < h]
    return min(rights, default=image_width) - x


def _label(image: np.ndarray, text: str, box: Box, color, room: int) -> None:
    """`text` in a filled block above the box (below it at the top edge), sized to be read on a phone.

    A label wider than the `room` up to the next face is broken into lines at its spaces, so that the
    labels of neighbouring faces in a group photo do not run into each other.
    """
    x, y, w, h = box
    height = max(12.0, image.shape[1] * MIN_TEXT_HEIGHT_OF_WIDTH, h * TEXT_HEIGHT_OF_FACE)
    scale = height / cv2.getTextSize("Hp", FONT, 1.0, 1)[0][1]
    thickness = max(1, round(scale * 1.6))
    pad = max(2, round(height * 0.2))
    lines = _wrap(text, max(room - 3 * pad, w), scale, thickness)
    sizes = [cv2.getTextSize(line, FONT, scale, thickness) for line in lines]
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


def _probability_bars(image: np.ndarray, face: Face) -> None:
    """The seven probabilities as bars beside the face (right of it, or left at the image's edge).

    Rows are as tall as the labels' letters, so the bars can be read where the labels can.
    """
    from fer_core.labels import EMOTIONS

    x, y, w, _ = face.box
    row = max(10, round(image.shape[1] * MIN_TEXT_HEIGHT_OF_WIDTH))
    bar = 4 * row
    scale = 0.7 * row / cv2.getTextSize("Hp", FONT, 1.0, 1)[0][1]
    thickness = max(1, round(scale * 1.6))
    text_w = max(cv2.getTextSize(name[:3], FONT, scale, thickness)[0][0] for name in EMOTIONS)
    left = x + w + row // 2
    if left + bar + text_w + row > image.shape[1]:
        left = max(0, x - row // 2 - bar - text_w - row // 2)
    for i, (name, p) in enumerate(zip(EMOTIONS, face.probs)):
        top = y + i * row
        cv2.rectangle(image, (left, top), (left + bar, top + row - 2), (40, 40, 40), cv2.FILLED)
        cv2.rectangle(image, (left, top), (left + int(bar * float(p)), top + row - 2), COLORS_BGR[name], cv2.FILLED)
        origin = (left + bar + row // 4, top + row - max(2, row // 5))
        cv2.putText(image, name[:3], origin, FONT, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)  # outline
        cv2.putText(image, name[:3], origin, FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
