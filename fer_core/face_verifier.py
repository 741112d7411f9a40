"""A second opinion on each Haar box: is this crop a face? (HOG features, logistic regression)

The Haar cascade, set loose enough to find small and tightly cut faces, also fires on blobs,
coins, letters and noise. Each of its boxes is cropped exactly as the emotion model's input is
(`crop_face` -> 48x48 grayscale), described by a histogram of oriented gradients, and scored by a
linear model trained on FER2013 train faces against face-free crops (random crops of face-free
pictures and textures, and the cascade's own false boxes on them). Boxes scoring under the
detector's threshold never reach the user.

Train (about a minute on 2 cores; writes models/face_verifier.npz, 11 KB):

    python -m fer_core.face_verifier --data ../shared/fer2013
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import cv2
import numpy as np

from fer_core.preprocess import FACE_SIZE, crop_face, to_face_input

VERIFIER_PATH = Path(__file__).resolve().parent.parent / "models" / "face_verifier.npz"
_HOG = cv2.HOGDescriptor((FACE_SIZE, FACE_SIZE), (16, 16), (8, 8), (8, 8), 9)


def features(faces: np.ndarray) -> np.ndarray:
    """(N, 48, 48) uint8 faces -> (N, 900) HOG features."""
    if len(faces) == 0:
        return np.zeros((0, _HOG.getDescriptorSize()), np.float32)
    return np.stack([_HOG.compute(np.ascontiguousarray(face)).ravel() for face in faces])


class FaceVerifier:
    """Scores crops; the threshold is the detector's (`DetectorSettings.min_face_score`)."""

    def __init__(self, weights: np.ndarray, bias: float, mean: np.ndarray, scale: np.ndarray):
        self.weights, self.bias, self.mean, self.scale = weights, bias, mean, scale

    @classmethod
    def load(cls, path: Path = VERIFIER_PATH) -> FaceVerifier:
        data = np.load(path)
        return cls(data["weights"], float(data["bias"]), data["mean"], data["scale"])

    def scores(self, faces: np.ndarray) -> np.ndarray:
        """Log-odds that each (48, 48) crop is a face."""
        return ((features(faces) - self.mean) / self.scale) @ self.weights + self.bias

    def check(self, image: np.ndarray, boxes: list) -> np.ndarray:
        """Log-odds for each (x, y, w, h) box of a grayscale or BGR image."""
        if not boxes:
            return np.zeros(0)
        return self.scores(np.stack([to_face_input(crop_face(image, box)) for box in boxes]))


# --- training ---------------------------------------------------------------------------------


def _positives(data: Path, count: int, rng: np.random.Generator) -> np.ndarray:
    """FER2013 train faces, shifted and scaled a little as a Haar box would frame them, some mirrored."""
    paths = sorted((data / "train").glob("*/*"))
    faces = []
    for path in rng.choice(paths, size=min(count, len(paths)), replace=False):
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if face is None:
            continue
        face = cv2.resize(face, (FACE_SIZE, FACE_SIZE))
        side = FACE_SIZE * rng.uniform(0.9, 1.1)
        box = (
            round(FACE_SIZE / 2 - side / 2 + rng.uniform(-3, 3)),
            round(FACE_SIZE / 2 - side / 2 + rng.uniform(-3, 3)),
            round(side),
            round(side),
        )
        face = to_face_input(crop_face(face, box))
        faces.append(face[:, ::-1] if rng.random() < 0.5 else face)
    return np.stack(faces)


def _negative_images(rng: np.random.Generator) -> list[np.ndarray]:
    """Face-free grayscale pictures (half of scikit-image's, chosen by a hash of the name; each also
    inverted and turned) and textures."""
    from skimage import data

    names = ["brick", "cell", "checkerboard", "clock", "coffee", "colorwheel", "grass", "gravel", "horse",
             "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms", "moon", "page", "retina",
             "rocket", "text"]  # fmt: skip
    images = []
    for name in names:
        if zlib.crc32(name.encode()) % 2:  # the other half is the detection benchmark's held-out set
            continue
        image = np.asarray(getattr(data, name)())
        if image.ndim == 3:
            image = cv2.cvtColor(image[..., :3].astype(np.uint8), cv2.COLOR_RGB2GRAY)
        if image.dtype != np.uint8:
            image = image.astype(np.float64)
            image = (255 * (image - image.min()) / max(1e-9, np.ptp(image))).astype(np.uint8)
        images += [
            image,
            255 - image,
            np.ascontiguousarray(np.rot90(image)),
        ]  # more kinds of edges than the pictures hold
    for _ in range(30):  # blurred noise, stripes, shapes
        noise = rng.integers(0, 256, (480, 640), np.uint8)
        images.append(cv2.equalizeHist(cv2.GaussianBlur(noise, (0, 0), rng.uniform(1, 12))))
        yy, xx = np.mgrid[0:480, 0:640]
        angle, period = rng.uniform(0, np.pi), rng.uniform(8, 80)
        images.append(
            (127 + 100 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)).astype(np.uint8)
        )
        shapes = np.full((480, 640), rng.integers(0, 256), np.uint8)
        for _ in range(40):
            x, y, shade = int(rng.integers(640)), int(rng.integers(480)), int(rng.integers(256))
            if rng.random() < 0.5:
                cv2.rectangle(
                    shapes, (x, y), (x + int(rng.integers(10, 200)), y + int(rng.integers(10, 200))), shade, -1
                )
            else:
                cv2.circle(shapes, (x, y), int(rng.integers(5, 80)), shade, -1)
        images.append(shapes)
    return images


def _negatives(count: int, rng: np.random.Generator) -> np.ndarray:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    crops = []
    for image in _negative_images(rng):
        for scale in (0.5, 1.0, 2.0):
            scaled = cv2.resize(image, None, fx=scale, fy=scale)
            for box in cascade.detectMultiScale(scaled, 1.1, 0, minSize=(24, 24))[:300]:
                crops.append(to_face_input(crop_face(scaled, tuple(box))))
        height, width = image.shape
        for _ in range(60):
            side = int(rng.uniform(16, min(height, width)))
            x, y = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
            crops.append(to_face_input(image[y : y + side, x : x + side]))
    crops = np.stack(crops)
    return crops[rng.permutation(len(crops))[:count]]


def train(data: Path, out: Path = VERIFIER_PATH, count: int = 15000, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    pos, neg = features(_positives(data, count, rng)), features(_negatives(count, rng))
    x = np.concatenate([pos, neg]).astype(np.float64)
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    mean, scale = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / scale
    held = rng.random(len(x)) < 0.2
    weights, bias = np.zeros(x.shape[1]), 0.0
    balance = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (1 - y).sum()))
    for _ in range(600):  # full-batch gradient descent on weighted log-loss with L2
        p = 1 / (1 + np.exp(-(x[~held] @ weights + bias)))
        grad = (balance[~held] * (p - y[~held])) / (~held).sum()
        weights -= 0.5 * (x[~held].T @ grad + 1e-3 * weights)
        bias -= 0.5 * grad.sum()
    logits = x[held] @ weights + bias
    faces, others = logits[y[held] == 1], logits[y[held] == 0]
    print(f"held out: {len(faces)} faces, {len(others)} non-faces")
    for threshold in (-1.0, 0.0, 1.0, 2.0):
        print(f"log-odds >= {threshold}: keeps {np.mean(faces >= threshold):.1%} of faces, "
              f"{np.mean(others >= threshold):.1%} of non-faces")  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, weights=weights.astype(np.float32), bias=bias, mean=mean.astype(np.float32),
             scale=scale.astype(np.float32))  # fmt: skip
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="FER2013 folder with train/<class>/ images")
    parser.add_argument("--out", type=Path, default=VERIFIER_PATH)
    args = parser.parse_args()
    train(args.data, args.out)


if __name__ == "__main__":
    main()
