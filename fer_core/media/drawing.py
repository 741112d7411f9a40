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


FONT = cv2.FONT_HERSHEY_SIMPLEX
# Labels stay legible when the whole image is shown on a phone (about 360 px wide): their letters are at
# least this share of the image's width tall, and taller on a large face.
MIN_TEXT_HEIGHT_OF_WIDTH = 1 / 40
TEXT_HEIGHT_OF_FACE = 0.16
# When a label has to shrink to fit beside a face, its letters stay at least this tall (px).
MIN_TEXT_HEIGHT = 9.0
# A face with no room around it (a close-up filling the frame) gets its label in a corner of the box:
# at most this share of the box, with letters no smaller than MIN_CORNER_TEXT_HEIGHT (else no label).
MAX_COVER = 0.10
MIN_CORNER_TEXT_HEIGHT = 6.0


def draw_faces(
    image: np.ndarray, faces: list[Face], captions: list[str] | None = None, show_probs: bool = False
) -> np.ndarray:
    """A copy of the BGR `image` with each face boxed and captioned in its emotion's colour."""
    out = image.copy()
    captions = captions or [face.caption for face in faces]
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
    """`text` in a filled block outside the box, sized to be read on a phone; it never hides the face.

    The block goes above the box, else below it, else beside it (right, then left), shrinking down to
    MIN_TEXT_HEIGHT when that is what it takes to fit outside. Above or below, a label wider than the
    `room` up to the next face is broken into lines at its spaces, so that the labels of neighbouring
    faces in a group photo do not run into each other. Only when no side has room (a face filling the
    frame) does it go inside the box: one line in the top-left corner, covering at most MAX_COVER of it.
    """
    x, y, w, h = box
    image_h, image_w = image.shape[:2]
    height = max(12.0, image_w * MIN_TEXT_HEIGHT_OF_WIDTH, h * TEXT_HEIGHT_OF_FACE)
    while True:
        for side in ("above", "below", "right", "left"):
            wrap_width = {"right": image_w - x - w, "left": x}.get(side, max(room, w))
            block = _Block(text, height, wrap_width)
            spot = _outside(side, block, box, image_w, image_h)
            if spot is not None:
                block.draw(image, spot, color)
                return
        if height <= MIN_TEXT_HEIGHT:
            break
        height = max(MIN_TEXT_HEIGHT, height * 0.85)
    height = max(MIN_TEXT_HEIGHT, min(12.0, h * TEXT_HEIGHT_OF_FACE))
    while height >= MIN_CORNER_TEXT_HEIGHT:
        block = _Block(text, height, float("inf"))
        if block.width < w and (block.width + 1) * (block.height + 1) <= MAX_COVER * w * h:
            block.draw(image, (x, y), color)
            return
        height *= 0.9


class _Block:
    """A label's lines of text at one letter height, and the filled block they make."""

    def __init__(self, text: str, height: float, wrap_width: float):
        self.scale = height / cv2.getTextSize("Hp", FONT, 1.0, 1)[0][1]
        self.thickness = max(1, round(self.scale * 1.6))
        self.pad = max(2, round(height * 0.2))
        self.lines = _wrap(text, wrap_width - 3 * self.pad, self.scale, self.thickness)
        self.sizes = [cv2.getTextSize(line, FONT, self.scale, self.thickness) for line in self.lines]
        self.line_height = max(th + base for (_, th), base in self.sizes) + self.pad
        self.width = max(tw for (tw, _), _ in self.sizes) + 2 * self.pad
        self.height = self.line_height * len(self.lines) + self.pad

    def draw(self, image: np.ndarray, top_left: tuple[int, int], color) -> None:
        left, top = top_left
        cv2.rectangle(image, (left, top), (left + self.width, top + self.height), color, cv2.FILLED)
        ink = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
        for i, (line, ((_, th), _)) in enumerate(zip(self.lines, self.sizes)):
            baseline = top + self.pad + i * self.line_height + th
            cv2.putText(image, line, (left + self.pad, baseline), FONT, self.scale, ink, self.thickness, cv2.LINE_AA)


def _outside(side: str, block: _Block, box: Box, image_w: int, image_h: int) -> tuple[int, int] | None:
    """Top-left corner of `block` on `side` of the box, clear of the box and inside the image, or None.

    Above and below, the block starts at the box's left edge; beside, it ends level with the box's bottom,
    leaving the top of that side to the probability bars.
    """
    x, y, w, h = box
    if block.width > image_w or block.height > image_h:
        return None
    across = max(0, min(x, image_w - block.width - 1))
    along = max(0, min(y + h - block.height, image_h - block.height - 1))
    if side == "above" and y - block.height - 1 >= 0:
        return across, y - block.height - 1
    if side == "below" and y + h + block.height + 1 < image_h:
        return across, y + h + 1
    if side == "right" and x + w + block.width + 1 < image_w:
        return x + w + 1, along
    if side == "left" and x - block.width - 1 >= 0:
        return x - block.width - 1, along
    return None


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
