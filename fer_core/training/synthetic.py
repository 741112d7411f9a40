"""Labelled frames made from face crops and face-free pictures: the detection benchmark's frames and the
face verifier's training material, generated the same way.

A face frame (640x480, 1280x720, 1920x1080 or 480x640) holds 1 to 5 faces (48x48 grayscale crops cut at
forehead and chin, as FER2013's are) from 5% to 80% of the shorter side at random places, some cut by the
frame's edge, some faded into the background, on a plain, gradient, picture or texture background. A
face-free frame is a crop or rescale of a face-free picture, or a texture.

Faces and pictures are split in two by a hash of their names (`in_split`): what is tuned on one half
can be checked on frames made of the other.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_core.labels import EMOTIONS

SIZES = [(640, 480), (640, 480), (1280, 720), (1920, 1080), (480, 640)]
# scikit-image's sample pictures that hold no face. Left out: astronaut and camera (people), chelsea
# (a cat), coins (ancient coins stamped with heads) and shepp_logan_phantom (a drawing of a head).
FACE_FREE = [
    "brick", "cell", "checkerboard", "clock", "coffee", "colorwheel", "grass", "gravel", "horse",
    "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms", "moon", "page", "retina",
    "rocket", "text",
]  # fmt: skip


def in_split(name: str, split: str) -> bool:
    return (zlib.crc32(name.encode()) % 2 == 0) == (split == "tune")


@dataclass
class Frame:
    image: np.ndarray
    boxes: list[tuple[int, int, int, int]]  # the faces' squares (may reach past the frame's edge)
    labels: list[int]
    faces: list[np.ndarray]  # the 48x48 crops, for the crop accuracy
    kind: str


def load_faces(folder: Path, split: str | None) -> list[tuple[np.ndarray, int]]:
    faces = []
    for label, name in enumerate(EMOTIONS):
        for path in sorted((folder / name).glob("*")):
            if split is None or in_split(path.name, split):
                image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                if image is not None:
                    faces.append((cv2.resize(image, (48, 48)), label))
    return faces


def load_pictures(paths: list[str] | None, split: str | None) -> list[np.ndarray]:
    if paths:
        return [image for p in paths if (image := cv2.imread(p)) is not None]
    from skimage import data

    pictures = []
    for name in FACE_FREE:
        if split is None or in_split(name, split):
            image = getattr(data, name)()
            if image.dtype != np.uint8:  # booleans and floats
                image = image.astype(np.float64)
                image = (255 * (image - image.min()) / max(1e-9, np.ptp(image))).astype(np.uint8)
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            elif image.shape[2] == 4:
                image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGR)
            else:
                image = image[:, :, ::-1]
            pictures.append(np.ascontiguousarray(image))
    return pictures


def texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    kind = rng.integers(5)
    if kind == 0:  # smooth noise
        small = rng.integers(0, 256, (max(2, height // 40), max(2, width // 40), 3), np.uint8)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    if kind == 1:  # stripes
        period = rng.uniform(8, 80)
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:height, 0:width]
        wave = 127 + 100 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
        return cv2.cvtColor(wave.astype(np.uint8), cv2.COLOR_GRAY2BGR)
    if kind == 2:  # random rectangles and circles
        canvas = np.full((height, width, 3), rng.integers(0, 256, 3), np.uint8)
        for _ in range(40):
            color = tuple(int(c) for c in rng.integers(0, 256, 3))
            x, y = int(rng.integers(width)), int(rng.integers(height))
            if rng.random() < 0.5:
                cv2.rectangle(
                    canvas, (x, y), (x + int(rng.integers(10, 200)), y + int(rng.integers(10, 200))), color, -1
                )
            else:
                cv2.circle(canvas, (x, y), int(rng.integers(5, 80)), color, -1)
        return canvas
    if kind == 3:  # fine noise
        return rng.integers(0, 256, (height, width, 3), np.uint8)
    gray = cv2.GaussianBlur(rng.integers(0, 256, (height, width), np.uint8), (0, 0), rng.uniform(1, 6))
    return cv2.cvtColor(cv2.equalizeHist(gray), cv2.COLOR_GRAY2BGR)


def picture_crop(rng: np.random.Generator, pictures: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """A random crop of a random picture, rescaled to the frame (a rescale of the whole picture at times)."""
    picture = pictures[rng.integers(len(pictures))]
    ph, pw = picture.shape[:2]
    if rng.random() < 0.3:
        return cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    share = rng.uniform(0.3, 1.0)
    cw = max(16, int(min(pw, ph * width / height) * share))
    ch = max(16, int(cw * height / width))
    cw, ch = min(cw, pw), min(ch, ph)
    x, y = int(rng.integers(0, pw - cw + 1)), int(rng.integers(0, ph - ch + 1))
    return cv2.resize(picture[y : y + ch, x : x + cw], (width, height), interpolation=cv2.INTER_LINEAR)


def background(rng: np.random.Generator, pictures: list[np.ndarray], width: int, height: int) -> tuple[np.ndarray, str]:
    choice = rng.random()
    if choice < 0.25:
        return np.full((height, width, 3), rng.integers(30, 230, 3), np.uint8), "plain"
    if choice < 0.45:
        ramp = np.linspace(rng.integers(0, 120), rng.integers(130, 256), width, dtype=np.float32)
        gray = np.repeat(ramp[None, :], height, axis=0).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), "gradient"
    if choice < 0.75:
        return picture_crop(rng, pictures, width, height), "picture"
    return texture(rng, width, height), "texture"


def face_frame(rng: np.random.Generator, faces: list[tuple[np.ndarray, int]], pictures: list[np.ndarray]) -> Frame:
    width, height = SIZES[rng.integers(len(SIZES))]
    canvas, kind = background(rng, pictures, width, height)
    short = min(width, height)
    count = int(rng.choice([1, 1, 2, 3, 4, 5]))
    largest = {1: 0.8, 2: 0.45, 3: 0.35, 4: 0.3, 5: 0.25}[count]
    boxes, labels, crops = [], [], []
    for _ in range(count):
        for _attempt in range(30):
            side = int(short * np.exp(rng.uniform(np.log(0.05), np.log(largest))))
            side = max(side, 24)
            cut = rng.random() < 0.15  # reach past the frame's edge by up to a quarter of the face
            lo_x, hi_x = (-side // 4, width - 3 * side // 4) if cut else (0, width - side)
            lo_y, hi_y = (-side // 4, height - 3 * side // 4) if cut else (0, height - side)
            if hi_x <= lo_x or hi_y <= lo_y:
                continue
            x, y = int(rng.integers(lo_x, hi_x + 1)), int(rng.integers(lo_y, hi_y + 1))
            grown = (x - side // 4, y - side // 4, side + side // 2, side + side // 2)
            if all(not _overlap(grown, b) for b in boxes):
                break
        else:
            continue
        face, label = faces[rng.integers(len(faces))]
        paste_face(rng, canvas, face, x, y, side)
        boxes.append((x, y, side, side))
        labels.append(label)
        crops.append(face)
    return Frame(canvas, boxes, labels, crops, kind)


def paste_face(rng: np.random.Generator, canvas: np.ndarray, face: np.ndarray, x: int, y: int, side: int) -> None:
    """Paste a 48x48 face onto `canvas` (BGR, in place) as the square (x, y, side, side), which may reach
    past the canvas's edge; with chance 0.3 its edges fade into the background instead of a hard square."""
    height, width = canvas.shape[:2]
    scaled = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC if side > 48 else cv2.INTER_AREA)
    scaled = cv2.cvtColor(scaled, cv2.COLOR_GRAY2BGR).astype(np.float32)
    alpha = np.ones((side, side, 1), np.float32)
    if rng.random() < 0.3:
        ramp = np.minimum(np.arange(side), np.arange(side)[::-1]) / max(1, side * 0.08)
        alpha = np.clip(np.minimum(ramp[None, :], ramp[:, None]), 0, 1)[..., None]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + side), min(height, y + side)
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    part = scaled[y0 - y : y1 - y, x0 - x : x1 - x]
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x]
    canvas[y0:y1, x0:x1] = (a * part + (1 - a) * region).astype(np.uint8)


def face_picture(rng: np.random.Generator, face: np.ndarray, pictures: list[np.ndarray]) -> tuple[np.ndarray, tuple]:
    """A small picture around one face (40-200 px, the picture 1.6-3.5 times its side each way, the face
    at times cut by the edge by up to a fifth) on a background as `face_frame` draws them: the picture
    and the face's square."""
    side = int(np.exp(rng.uniform(np.log(40), np.log(200))))
    width, height = int(side * rng.uniform(1.6, 3.5)), int(side * rng.uniform(1.6, 3.5))
    canvas, _ = background(rng, pictures, width, height)
    x = int(rng.integers(-side // 5, width - 4 * side // 5 + 1))
    y = int(rng.integers(-side // 5, height - 4 * side // 5 + 1))
    paste_face(rng, canvas, face, x, y, side)
    return canvas, (x, y, side, side)


def _overlap(a, b) -> bool:
    return not (a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1])


def free_frame(rng: np.random.Generator, pictures: list[np.ndarray]) -> Frame:
    width, height = SIZES[rng.integers(len(SIZES))]
    if rng.random() < 0.7:
        image, kind = picture_crop(rng, pictures, width, height), "picture"
    else:
        image, kind = texture(rng, width, height), "texture"
    return Frame(image, [], [], [], kind)


def matches(box, truth) -> bool:
    x, y, w, h = box
    tx, ty, tw, th = truth
    cx, cy = x + w / 2, y + h / 2
    return tx <= cx <= tx + tw and ty <= cy <= ty + th and 0.5 <= w / tw <= 2.0
