"""Random changes a training face undergoes and keeps its expression, drawn on the host with NumPy and OpenCV.

A batch goes through `STEPS` in order: each step is a function `(faces, rng, settings) -> faces` on
(N, S, S) float32 faces in 0-255 that draws all its random numbers for the batch at once (drawn face
by face, Python's overhead held a training step at 23 ms and a GPU idle). A step that is switched off
by its setting draws nothing, so adding a step (off by default) at the end leaves every other draw,
and so every earlier run, as it was. To add one: write the function, add its setting to
`Augmentation`, append it to `STEPS`.

These run on the host rather than as Keras preprocessing layers because the layers' affine
transforms took 4 s a step under JAX on a GPU, against 7 ms for the network's whole step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Augmentation:
    """How strongly each step changes a face; 0 switches a step off."""

    flip: float = 0.5  # chance of a mirror image
    degrees: float = 15.0  # turn within +-degrees
    zoom: float = 0.15  # scale within 1 +- zoom
    shift: float = 0.12  # move within +- this share of the side
    contrast: float = 0.3  # contrast scaled within 1 +- contrast, about the face's mean
    erasing: float = 0.5  # chance a patch (2-20% of the face, aspect 0.3-3.3) becomes noise
    low_res: float = 0.0  # chance the face is shrunk to 16-40 px and grown back, as a small face in a photo


def flip(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    flipped = rng.random(len(faces)) < settings.flip
    return np.where(flipped[:, None, None], faces[:, :, ::-1], faces)


def warp_matrices(degrees: np.ndarray, scale: np.ndarray, shift: np.ndarray, size: int) -> np.ndarray:
    """(N, 2, 3) affine matrices: cv2.getRotationMatrix2D's turn by `degrees` and zoom by `scale`
    about the centre of a `size` square, for N faces at once, then a move by `shift` (N, 2) pixels."""
    radians = np.deg2rad(degrees)
    cos, sin = scale * np.cos(radians), scale * np.sin(radians)
    centre = size / 2
    top = np.stack([cos, sin, (1 - cos) * centre - sin * centre + shift[:, 0]], axis=1)
    bottom = np.stack([-sin, cos, sin * centre + (1 - cos) * centre + shift[:, 1]], axis=1)
    return np.stack([top, bottom], axis=1)


def affine(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """Turn, zoom and shift each face, its edge pixels repeated into the gap."""
    import cv2

    n, size = len(faces), faces.shape[1]
    matrices = warp_matrices(
        rng.uniform(-settings.degrees, settings.degrees, n),
        rng.uniform(1 - settings.zoom, 1 + settings.zoom, n),
        rng.uniform(-settings.shift, settings.shift, (n, 2)) * size,
        size,
    )
    out = np.empty(faces.shape, np.float32)
    for i in range(n):
        out[i] = cv2.warpAffine(faces[i], matrices[i], (size, size), borderMode=cv2.BORDER_REPLICATE)
    return out


def contrast(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    mean = faces.mean(axis=(1, 2), keepdims=True)
    factor = rng.uniform(1 - settings.contrast, 1 + settings.contrast, (len(faces), 1, 1)).astype(np.float32)
    return np.clip((faces - mean) * factor + mean, 0, 255)


def erase(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """Random erasing: a patch of each chosen face replaced by noise, sizes and places drawn at once."""
    n, size = len(faces), faces.shape[1]
    area = rng.uniform(0.02, 0.2, n) * size * size
    aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3), n))
    h = np.minimum(size, np.sqrt(area * aspect).astype(int))
    w = np.minimum(size, np.sqrt(area / aspect).astype(int))
    y = (rng.random(n) * (size - h + 1)).astype(int)
    x = (rng.random(n) * (size - w + 1)).astype(int)
    rows, cols = np.arange(size)[None, :, None], np.arange(size)[None, None, :]
    y, x, h, w, chosen = (a[:, None, None] for a in (y, x, h, w, rng.random(n) < settings.erasing))
    erased = chosen & (rows >= y) & (rows < y + h) & (cols >= x) & (cols < x + w)
    noise = rng.uniform(0, 255, (n, size, size)).astype(np.float32)
    return np.where(erased, noise, faces)


def low_res(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """Shrink chosen faces to 16-40 px and grow them back (draws nothing when off)."""
    import cv2

    if not settings.low_res:
        return faces
    n, size = len(faces), faces.shape[1]
    small = rng.integers(16, 41, n)
    for i in np.flatnonzero(rng.random(n) < settings.low_res):
        shrunk = cv2.resize(faces[i], (int(small[i]), int(small[i])), interpolation=cv2.INTER_AREA)
        faces[i] = cv2.resize(shrunk, (size, size), interpolation=cv2.INTER_LINEAR)
    return faces


STEPS = (flip, affine, contrast, erase, low_res)


def augment_batch(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation = Augmentation()) -> np.ndarray:
    """Random variants of (N, S, S) uint8 faces, as float32 in 0-255, through every step of `STEPS`."""
    for step in STEPS:
        faces = step(faces, rng, settings)
    return faces


class AugmentedFaces:
    """Training batches of randomly changed faces: every face once an epoch, in an order of the
    epoch's own, each batch drawn from a seed of (seed, epoch, batch), so a resumed or distributed
    run draws the very same batches."""

    def __init__(self, images: np.ndarray, targets: np.ndarray, batch_size: int, seed: int, settings: Augmentation):
        self.images, self.targets, self.batch_size, self.seed, self.settings = (
            images,
            targets,
            batch_size,
            seed,
            settings,
        )
        self.epoch = 0
        self.order = np.arange(len(images))

    def __len__(self) -> int:
        return int(np.ceil(len(self.images) / self.batch_size))

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.order = np.random.default_rng((self.seed, epoch)).permutation(len(self.images))

    def batch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        faces = augment_batch(self.images[rows, :, :, 0], rng, self.settings)
        return faces[..., None], self.targets[rows]
