"""Random changes a training face undergoes and keeps its expression, drawn on the host with NumPy and OpenCV.

A batch goes through `STEPS` in order: each step is a function `(faces, rng, settings) -> faces` on
(N, S, S) float32 faces in 0-255 that draws all its random numbers for the batch at once (drawn face
by face, Python's overhead held a training step at 23 ms and a GPU idle). A step that is switched off
by its setting draws nothing, so adding a step (off by default) at the end leaves every other draw,
and so every earlier run, as it was. To add one: write the function, add its setting to
`Augmentation`, append it to `STEPS`.

The steps after `low_res` reproduce how the app's crops of real photos differ from FER2013's faces
and from each other: a detector's soft focus (`blur`), web pictures' JPEG compression (`jpeg`), exposure
and light (`gamma`, `brightness`, `side_light`) and a camera's noise (`noise`). Colour faces (real photos
kept in BGR) become grey with random channel weights first (`to_grey`), as cameras and conversions weigh
the channels differently.

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
    blur: float = 0.0  # chance of a Gaussian blur of sigma within `blur_sigma` px
    blur_sigma: tuple[float, float] = (0.6, 1.4)
    jpeg: float = 0.0  # chance the face is re-compressed as a JPEG of quality within `jpeg_quality`
    jpeg_quality: tuple[int, int] = (25, 90)
    gamma: float = 0.0  # gamma drawn log-uniformly within 1 / (1 + gamma) .. 1 + gamma
    brightness: float = 0.0  # grey levels added within +- brightness
    side_light: float = 0.0  # chance light falls from one side: a ramp of up to +-50 grey levels across the face
    noise: float = 0.0  # chance of sensor noise, Gaussian of sigma up to 8 grey levels
    grey_weights: float = 0.0  # colour faces: spread (log-normal sigma) of each channel's weight in the grey mix


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


def blur(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """A Gaussian blur of chosen faces, each with its own sigma: a 7-tap separable filter over the whole
    batch, edges mirrored (draws nothing when off)."""
    if not settings.blur:
        return faces
    n = len(faces)
    chosen = rng.random(n) < settings.blur
    sigma = rng.uniform(*settings.blur_sigma, n)
    taps = np.arange(-3, 4)
    kernels = np.exp(-(taps[None, :] ** 2) / (2 * sigma[:, None] ** 2))
    kernels = (kernels / kernels.sum(axis=1, keepdims=True)).astype(np.float32)
    padded = np.pad(faces.astype(np.float32), ((0, 0), (3, 3), (3, 3)), mode="symmetric")
    size = faces.shape[1]
    rows = sum(kernels[:, k, None, None] * padded[:, k : k + size, :] for k in range(7))
    blurred = sum(kernels[:, k, None, None] * rows[:, :, k : k + size] for k in range(7))
    return np.where(chosen[:, None, None], blurred, faces).astype(np.float32)


def jpeg(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """Chosen faces re-compressed as JPEG at a random quality, face by face (draws nothing when off)."""
    import cv2

    if not settings.jpeg:
        return faces
    n = len(faces)
    chosen = rng.random(n) < settings.jpeg
    quality = rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1, n)
    faces = faces.astype(np.float32)
    for i in np.flatnonzero(chosen):
        face = np.clip(np.rint(faces[i]), 0, 255).astype(np.uint8)
        _, encoded = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, int(quality[i])])
        faces[i] = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return faces


def gamma(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """Each face's grey levels raised to a random power (draws nothing when off)."""
    if not settings.gamma:
        return faces
    spread = np.log1p(settings.gamma)
    power = np.exp(rng.uniform(-spread, spread, (len(faces), 1, 1))).astype(np.float32)
    return 255 * np.power(np.clip(faces, 0, 255) / 255, power, dtype=np.float32)


def brightness(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """A random number of grey levels added to each face (draws nothing when off)."""
    if not settings.brightness:
        return faces
    shift = rng.uniform(-settings.brightness, settings.brightness, (len(faces), 1, 1)).astype(np.float32)
    return np.clip(faces + shift, 0, 255)


def side_light(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """Light from one side on chosen faces: a linear ramp of up to +-50 grey levels in a random direction
    (draws nothing when off)."""
    if not settings.side_light:
        return faces
    n, size = len(faces), faces.shape[1]
    angle = rng.uniform(0, 2 * np.pi, n)
    strength = rng.uniform(0, 50, n) * (rng.random(n) < settings.side_light)
    line = np.linspace(-1, 1, size)
    ramp = np.cos(angle)[:, None, None] * line[None, None, :] + np.sin(angle)[:, None, None] * line[None, :, None]
    return np.clip(faces + (strength[:, None, None] * ramp).astype(np.float32), 0, 255)


def noise(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """Gaussian sensor noise of a random sigma (up to 8 grey levels) on chosen faces (draws nothing when off)."""
    if not settings.noise:
        return faces
    n = len(faces)
    sigma = rng.uniform(0, 8, n) * (rng.random(n) < settings.noise)
    grain = rng.standard_normal(faces.shape, dtype=np.float32) * sigma[:, None, None].astype(np.float32)
    return np.clip(faces + grain, 0, 255)


STEPS = (flip, affine, contrast, erase, low_res, blur, jpeg, gamma, brightness, side_light, noise)

# ITU-R BT.601's weights of the blue, green and red channels: what cv2.COLOR_BGR2GRAY uses.
GREY_WEIGHTS = np.array([0.114, 0.587, 0.299])


def to_grey(colour: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """(N, S, S, 3) BGR faces as (N, S, S) float32 grey: BT.601's weights, each channel's scaled by its own
    log-normal factor (sigma `grey_weights`) and the three renormalised, drawn per face."""
    factors = np.exp(rng.normal(0, settings.grey_weights, (len(colour), 3)))
    weights = GREY_WEIGHTS * factors
    weights = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    return np.einsum("nhwc,nc->nhw", colour.astype(np.float32), weights)


def augment_batch(faces: np.ndarray, rng: np.random.Generator, settings: Augmentation = Augmentation()) -> np.ndarray:
    """Random variants of (N, S, S) uint8 (or float32 0-255) faces, as float32 in 0-255, through `STEPS`."""
    for step in STEPS:
        faces = step(faces, rng, settings)
    return faces


class AugmentedFaces:
    """Training batches of randomly changed faces: every face once an epoch, in an order of the
    epoch's own, each batch drawn from a seed of (seed, epoch, batch), so a resumed or distributed
    run draws the very same batches.

    `colour`: BGR copies (M, S, S, 3) of the last M faces (real photos), turned grey by `to_grey` when
    `settings.grey_weights` is set, from a generator of their own (so the other draws stay as they are).
    `sample_weights`: a loss weight for each face (class balance); given, a batch also holds its faces'."""

    def __init__(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        batch_size: int,
        seed: int,
        settings: Augmentation,
        colour: np.ndarray | None = None,
        sample_weights: np.ndarray | None = None,
    ):
        self.images, self.targets, self.batch_size, self.seed, self.settings = (
            images,
            targets,
            batch_size,
            seed,
            settings,
        )
        self.colour, self.sample_weights = colour, sample_weights
        self.epoch = 0
        self.order = np.arange(len(images))

    def __len__(self) -> int:
        return int(np.ceil(len(self.images) / self.batch_size))

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.order = np.random.default_rng((self.seed, epoch)).permutation(len(self.images))

    def batch(self, index: int) -> tuple[np.ndarray, ...]:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        faces = self.images[rows, :, :, 0]
        first_colour = len(self.images) - (0 if self.colour is None else len(self.colour))
        coloured = rows >= first_colour
        if self.settings.grey_weights and coloured.any():
            faces = faces.astype(np.float32)
            grey_rng = np.random.default_rng((self.seed, self.epoch, index, 1))
            faces[coloured] = to_grey(self.colour[rows[coloured] - first_colour], grey_rng, self.settings)
        faces = augment_batch(faces, rng, self.settings)
        if self.sample_weights is None:
            return faces[..., None], self.targets[rows]
        return faces[..., None], self.targets[rows], self.sample_weights[rows].astype(np.float32)
