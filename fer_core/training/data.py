"""Training data: FER2013's splits as arrays, the validation split carved out of train/, the faces as
the photo detector cuts them out, real photos as the app cuts them, and one packed file to carry the
data to another machine."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.model.preprocess import FACE_SIZE

# The validation faces are the same for every run and stage (their own seed), so a fine-tuning stage
# never trains on the faces that picked the epoch of the stage before.
VALIDATION_SEED = 0


def load_arrays(data: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 48, 48, 1) uint8 faces and (N,) labels of one split, from a FER2013 folder or CSV, or
    from an `.npz` holding `x_<split>` and `y_<split>` (how the data travels to a GPU box)."""
    if data.endswith(".npz"):
        arrays = np.load(data)
        if f"x_{split}" not in arrays:
            return np.zeros((0, FACE_SIZE, FACE_SIZE, 1), np.uint8), np.zeros(0, np.int64)
        return arrays[f"x_{split}"][..., None], arrays[f"y_{split}"].astype(np.int64)
    from fer_core.datasets import load_split

    dataset = load_split(data, split)
    return dataset.images[..., None], dataset.labels


def _framed_shard(job: tuple[np.ndarray, np.ndarray, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One shard of `framed_copies`, in a process of its own, drawn from a seed of its own: the shard's
    number (so the copies depend on the number of shards, not on the machine)."""
    from dataclasses import replace

    from fer_core.faces.detection import FaceDetector
    from fer_core.model.preprocess import crop_face, to_face_input
    from fer_core.training.synthetic import face_picture, load_pictures, matches

    images, labels, shard, log_every = job
    rng = np.random.default_rng(shard)
    pictures = load_pictures(None, "tune")
    detector = FaceDetector()
    crops, kept, ratios = [], [], []
    for i, (face, label) in enumerate(zip(images, labels)):
        picture, square = face_picture(rng, face, pictures)
        # The photo page's search, its smallest face at 45% of this face (the face at 2-4 times the
        # cascades' window, as in a photo searched from 5% of its side).
        settings = replace(detector.settings, min_face_fraction=0.45 * square[2] / min(picture.shape[:2]))
        boxes = [box for box in detector.detect(picture, settings) if matches(box, square)]
        if boxes:
            crops.append(to_face_input(crop_face(picture, boxes[0])))
            kept.append(label)
            ratios.append(boxes[0][2] / square[2])
        if log_every and (i + 1) % log_every == 0:
            print(f"shard {shard}: {i + 1} of {len(images)} faces, {len(crops)} found", flush=True)
    return np.array(crops, np.uint8).reshape(-1, FACE_SIZE, FACE_SIZE), np.array(kept, np.uint8), np.array(ratios)


def framed_copies(
    images: np.ndarray, labels: np.ndarray, shards: int = 2, log_every: int = 1000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each (N, 48, 48) face as the photo page cuts it out: pasted into a small picture
    (`synthetic.face_picture`, on the backgrounds of the detection benchmark's `tune` half), found by the
    photo detector, and its box cut out. FER2013's crops are framed unevenly (some cut at the brows and
    the mouth, some with hair and shoulders), and the detector's box follows the face, not the crop: a
    network that learned only FER2013's framing reads these boxes less well. Faces the detector misses
    are left out. Returns the crops, their labels and each box's side over the face's (the shards, each
    drawn from its own seed, run in as many processes)."""
    from multiprocessing import get_context

    jobs = [(images[k::shards], labels[k::shards], k, log_every) for k in range(shards)]
    with get_context("spawn").Pool(shards) as pool:  # not fork: OpenCV's threads may be held
        parts = pool.map(_framed_shard, jobs)
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))


def pack(data: str, out: Path, framed: bool = False, shards: int = 2, log=print) -> Path:
    """FER2013's train and test splits as one compressed `.npz` (`x_train`, `y_train`, `x_test`,
    `y_test`), the form `--data` also reads: one file to copy to a GPU box. With `framed`, the train
    split also holds every face as the photo detector cuts it out (`framed_copies`)."""
    arrays = {}
    for split in ("train", "test"):
        x, y = load_arrays(data, split)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x[..., 0], y.astype(np.uint8)
    if framed:
        started = time.perf_counter()
        x, y, ratios = framed_copies(arrays["x_train"], arrays["y_train"], shards)
        off = np.mean((ratios < 0.8) | (ratios > 1.25))
        log(
            f"framed copies: {len(x)} of {len(arrays['x_train'])} faces found, {off:.0%} of the boxes under "
            f"0.8 or over 1.25 times the face's side, {time.perf_counter() - started:.0f} s"
        )
        arrays["x_train"] = np.concatenate([arrays["x_train"], x])
        arrays["y_train"] = np.concatenate([arrays["y_train"], y])
    out = Path(out)
    np.savez_compressed(out, **arrays)
    log(f"{out}: {len(arrays['x_train'])} train and {len(arrays['x_test'])} test faces")
    return out


def validation_split(labels: np.ndarray, fraction: float, seed: int = VALIDATION_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation) of a stratified split: `fraction` of each class, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        held.append(rng.permutation(members)[: int(round(fraction * len(members)))])
    validation = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    return np.setdiff1d(np.arange(len(labels)), validation), validation


@dataclass
class RealPhotos:
    """Listed real photos, each twice: as the app cuts its face out (`found` False where the photo search
    finds none; that row then holds the whole photo) and as a whole photo. Faces are 48x48 uint8, grey as
    the app converts them and BGR (for a grey mix of random weights)."""

    crops: np.ndarray  # (N, 48, 48) grey, the app's crop
    crops_colour: np.ndarray  # (N, 48, 48, 3) BGR
    found: np.ndarray  # (N,) bool
    whole: np.ndarray  # (N, 48, 48) grey, the whole photo
    whole_colour: np.ndarray  # (N, 48, 48, 3) BGR
    labels: np.ndarray  # (N,)

    def training_faces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(grey, BGR, labels): every found face's crop, then every whole photo."""
        return (
            np.concatenate([self.crops[self.found], self.whole]),
            np.concatenate([self.crops_colour[self.found], self.whole_colour]),
            np.concatenate([self.labels[self.found], self.labels]),
        )


def _colour_input(image: np.ndarray) -> np.ndarray:
    """A BGR crop as 48x48x3, each channel resized as `to_face_input` resizes a grey face."""
    from fer_core.model.preprocess import to_face_input

    return np.stack([to_face_input(image[:, :, c]) for c in range(3)], axis=-1)


def read_photo_list(path: str | Path) -> list[str]:
    """The photos a list file names: one path a line, relative to the photo folder (<class>/<image>)."""
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]


def real_photos(folder: str | Path, names: list[str], cache_dir: Path, log=print) -> RealPhotos:
    """The named photos of `folder` (<class>/<image>, the class one of EMOTIONS) as the app cuts them: the
    photo search (`FaceDetector`, its default settings), the largest face, `crop_face` and `to_face_input`.
    Cut once and kept in `cache_dir` (a file per list of names)."""
    import cv2

    from fer_core.model.preprocess import crop_face, to_face_input

    key = hashlib.sha1("\n".join(names).encode()).hexdigest()[:12]
    cache = Path(cache_dir) / f"real_photos_{key}.npz"
    if cache.exists():
        return RealPhotos(**dict(np.load(cache)))
    from fer_core.faces.detection import FaceDetector

    log(f"cutting the faces out of {len(names)} photos of {folder} as the app does (kept in {cache}) ...")
    detector = FaceDetector()
    rows: dict[str, list] = {name: [] for name in ("crops", "crops_colour", "found", "whole", "whole_colour", "labels")}
    for name in names:
        label = Path(name).parts[0]
        if label not in EMOTIONS:
            raise ValueError(f"{name}: a real photo's folder names its class, one of {', '.join(EMOTIONS)}")
        image = cv2.imread(str(Path(folder) / name), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{Path(folder) / name} is missing or not an image")
        boxes = detector.detect(image)
        face = crop_face(image, boxes[0]) if boxes else image
        rows["crops"].append(to_face_input(face))
        rows["crops_colour"].append(_colour_input(face))
        rows["found"].append(bool(boxes))
        rows["whole"].append(to_face_input(image))
        rows["whole_colour"].append(_colour_input(image))
        rows["labels"].append(EMOTIONS.index(label))
    photos = RealPhotos(**{k: np.array(v) for k, v in rows.items()})
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, **{k: getattr(photos, k) for k in rows})
    log(f"faces found in {photos.found.sum()} of {len(names)} photos")
    return photos


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """A loss weight for each class, (largest class count / class count) ** power, scaled so the
    training faces' mean weight is 1 (power 0: all 1)."""
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    weights = (counts.max() / np.maximum(counts, 1)) ** power
    return weights * counts.sum() / (weights * counts).sum()
