"""Training data: FER2013's splits as arrays, the validation split carved out of train/, the faces as
the photo detector cuts them out, and one packed file to carry the data to another machine."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

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
