"""Is this box a face? A small network's word on the boxes the detectors are unsure of.

The Haar cascades, set loose enough to find small, tightly cut and half-turned faces, also fire on blobs,
spoons, letters and noise; BlazeFace is unsure of some faces in photos. Each such box is cropped exactly as
the emotion model's input is (`crop_face` -> 48x48 grayscale), its contrast normalised, and scored by small
convolutional networks (79k weights each; the shipped `models/face_verifier.keras` is a weighted mean of
five, about 1.9 MB).

It learns from the cascades' own boxes on generated frames (`fer_core.training.verifier`): FER2013 *train*
faces on plain, gradient, picture and texture backgrounds; as non-faces, boxes on face-free frames (pictures,
generated textures, shaded blobs, strokes, pebbles) and faces scrambled (upside down, shuffled in blocks,
phase-scrambled), so that it learns a face's arrangement rather than its grey levels. `docs/detection.md`
has the commands that made the shipped file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_core.model.classifier import load_network
from fer_core.model.opencv_net import opencv_net, read_opencv_file
from fer_core.model.preprocess import FACE_SIZE, crop_face, to_face_input
from fer_core.paths import PROJECT_DIR

VERIFIER_PATH = PROJECT_DIR / "models" / "face_verifier.keras"


def box_crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A box's 48x48 crop as the verifier reads it: a small box enlarged bilinearly, as the crops the shipped
    networks learned from were (the emotion models' input is enlarged bicubically since)."""
    return to_face_input(crop_face(image, box), enlarge=cv2.INTER_LINEAR)


def normalized(faces: np.ndarray) -> np.ndarray:
    """(N, 48, 48) uint8 crops -> (N, 48, 48, 1) float32, each of zero mean and unit spread: the
    verifier judges shapes, not how bright or contrasted the picture is."""
    x = faces.astype(np.float32).reshape(len(faces), -1)
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 8.0)
    return x.reshape(len(faces), FACE_SIZE, FACE_SIZE, 1)


class FaceVerifier:
    """Scores crops; the threshold is the detector's (`DetectorSettings.min_face_score`). Loaded from the
    network's OpenCV copy where it has one (no TensorFlow; see `Classifier`), else from its Keras file."""

    def __init__(self, run, path: Path | None = None, model=None):
        """The one constructor, which the two below go through. `run`: (N, 48, 48, 1) normalised crops ->
        (N, 1) log-odds; `model`: the Keras model behind it, else read from `path` when asked for."""
        self._run, self._path, self._model = run, path, model

    @classmethod
    def from_keras(cls, model, path: Path | None = None) -> FaceVerifier:
        """A Keras verifier run in OpenCV where it can, else in TensorFlow's graph, traced here."""
        from fer_core.model.architecture import for_inference
        from fer_core.model.classifier import import_tensorflow, tensorflow_graph

        import_tensorflow()
        inference = for_inference(model)
        run = opencv_net(inference)  # faster on a CPU (see Classifier)
        return cls(run if run is not None else tensorflow_graph(inference, dtype="float32"), path, model)

    @classmethod
    def load(cls, path: Path = VERIFIER_PATH) -> FaceVerifier:
        copy = read_opencv_file(path)  # no Keras model, no TensorFlow
        verifier = cls(copy, path) if copy is not None else cls.from_keras(load_network(path), path)
        verifier.scores(np.zeros((1, FACE_SIZE, FACE_SIZE), np.uint8))  # trace now, not on the first frame
        return verifier

    @property
    def model(self):
        """The Keras model (read from its file on first use where the verifier runs the OpenCV copy)."""
        if self._model is None:
            self._model = load_network(self._path)
        return self._model

    def scores(self, faces: np.ndarray) -> np.ndarray:
        """Log-odds that each (48, 48) crop is a face."""
        if len(faces) == 0:
            return np.zeros(0, np.float32)
        chunks = [faces[i : i + 512] for i in range(0, len(faces), 512)]
        return np.concatenate([self._run(self._prepared(chunk))[:, 0] for chunk in chunks])

    def _prepared(self, faces: np.ndarray) -> np.ndarray:
        """(N, 48, 48) uint8 crops as the network reads them: contrast-normalised."""
        return normalized(faces)

    def check(self, image: np.ndarray, boxes: list) -> np.ndarray:
        """Log-odds for each (x, y, w, h) box of a grayscale or BGR image."""
        if not boxes:
            return np.zeros(0, np.float32)
        return self.scores(np.stack([box_crop(image, box) for box in boxes]))
