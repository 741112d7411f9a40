"""Scoring a model on a labelled image folder, with or without face detection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fer_core.datasets import DatasetError, list_class_folder
from fer_core.media.images import ImageError, read_image
from fer_core.model.preprocess import crop_face, faces_to_batch
from fer_core.pipeline import EmotionPipeline
from fer_core.reporting.evaluation import Evaluation, evaluate_predictions

BATCH = 256


def evaluate_folder(
    pipeline: EmotionPipeline,
    root: str | Path,
    crops: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """Score `root/<class>/<image>`.

    With `crops`, every image is a face crop already and goes straight to the classifier.
    Without, the largest detected face of each image is classified; an image with no face
    found counts as wrong, and the share with a face is reported as `detection_rate`.
    `on_progress(done, total)` is called after each batch of images.
    """
    items = list_class_folder(Path(root))
    labels = np.array([label for _, label in items])
    predictions = np.full(len(items), -1)
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        if crops:
            faces = [_read_crop(path) for path, _ in chunk]
            index = np.arange(start, start + len(chunk))
        else:
            faces, index = [], []
            for offset, (path, _) in enumerate(chunk):
                face = _largest_face(pipeline, path)
                if face is not None:
                    faces.append(face)
                    index.append(start + offset)
        if faces:
            probs = pipeline.classifier.predict_batch(faces_to_batch(faces))
            predictions[np.asarray(index)] = probs.argmax(axis=1)
        if on_progress is not None:
            on_progress(start + len(chunk), len(items))
    detection_rate = None if crops else float((predictions >= 0).mean())
    return evaluate_predictions(labels, predictions, detection_rate=detection_rate, data=str(root))


def _read_crop(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DatasetError(f"cannot read image {path}")
    return image


def _largest_face(pipeline: EmotionPipeline, path: Path) -> np.ndarray | None:
    try:
        image = read_image(path)
    except ImageError as error:
        raise DatasetError(str(error)) from error
    boxes = pipeline.detector.detect(image)
    return crop_face(image, boxes[0], pipeline.margin) if boxes else None
