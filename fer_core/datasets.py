"""Reading FER2013 from the Kaggle folder layout or the challenge CSV into the same arrays."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.model.preprocess import FACE_SIZE, to_face_input

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".pgm", ".tif", ".tiff"}

# The challenge CSV numbers classes 0=angry 1=disgust 2=fear 3=happy 4=sad 5=surprise 6=neutral.
CSV_CLASS_ORDER = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CSV_TO_PROJECT = np.array([EMOTIONS.index(name) for name in CSV_CLASS_ORDER])

# Which CSV `Usage` values make up each split of the folder layout.
CSV_SPLITS = {"train": ("Training",), "test": ("PublicTest",), "private": ("PrivateTest",)}


class DatasetError(ValueError):
    """The data set path is missing or not in a layout this module reads."""


@dataclass
class FaceDataset:
    """Face crops as (N, 48, 48) uint8, labels as indices into EMOTIONS."""

    images: np.ndarray
    labels: np.ndarray
    paths: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(EMOTIONS))
        return {name: int(n) for name, n in zip(EMOTIONS, counts)}


def list_class_folder(root: Path) -> list[tuple[Path, int]]:
    """(path, label) for every image in `root/<class>/`, in a stable order."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    items = []
    for label, name in enumerate(EMOTIONS):
        folder = root / name
        if folder.is_dir():
            items += [(p, label) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    unknown = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in EMOTIONS)
    if unknown:
        raise DatasetError(f"{root} has folders that are not emotion classes: {', '.join(unknown)}")
    if not items:
        raise DatasetError(f"{root} holds no images in <class>/ folders ({', '.join(EMOTIONS)})")
    return items


def load_folder(root: str | Path, progress: Callable[[Iterator], Iterator] | None = None) -> FaceDataset:
    """Read `root/<class>/<image>` face crops (the Kaggle layout) as 48x48 grayscale."""
    items = list_class_folder(Path(root))
    iterator = progress(iter(items)) if progress else items
    images = np.empty((len(items), FACE_SIZE, FACE_SIZE), np.uint8)
    for i, (path, _) in enumerate(iterator):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise DatasetError(f"cannot read image {path}")
        images[i] = to_face_input(image)
    labels = np.array([label for _, label in items], np.int64)
    return FaceDataset(images, labels, [str(p) for p, _ in items])


def load_csv(path: str | Path, split: str = "train") -> FaceDataset:
    """Read one split of the challenge CSV (`emotion,pixels,Usage`)."""
    path = Path(path)
    if split not in CSV_SPLITS:
        raise DatasetError(f"unknown split {split!r}; choose one of {', '.join(CSV_SPLITS)}")
    usages = CSV_SPLITS[split]
    images, labels, rows = [], [], []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            if "Usage" in row and row["Usage"] not in usages:
                continue
            pixels = np.array(row["pixels"].split(), np.uint8)
            if pixels.size != FACE_SIZE * FACE_SIZE:
                raise DatasetError(f"{path}:{line}: expected {FACE_SIZE * FACE_SIZE} pixels, got {pixels.size}")
            images.append(to_face_input(pixels.reshape(FACE_SIZE, FACE_SIZE)))
            labels.append(CSV_TO_PROJECT[int(row["emotion"])])
            rows.append(f"{path}:{line}")
    if not labels:
        raise DatasetError(f"{path} has no rows for split {split!r} (Usage {', '.join(usages)})")
    return FaceDataset(np.stack(images), np.array(labels, np.int64), rows)


def load_split(data: str | Path, split: str) -> FaceDataset:
    """Read `split` ("train" or "test") from a folder with train/ and test/ or from the CSV."""
    data = Path(data)
    if not data.exists():
        raise DatasetError(f"{data} does not exist")
    if data.is_file():
        if data.suffix.lower() != ".csv":
            raise DatasetError(f"{data} is a file but not a FER2013 .csv")
        return load_csv(data, split)
    if (data / split).is_dir():
        return load_folder(data / split)
    raise DatasetError(f"{data} has no {split}/ folder (expected the FER2013 layout train/<class>/, test/<class>/)")
