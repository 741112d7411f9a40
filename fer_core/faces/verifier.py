"""Is this box a face? A small network's second opinion on every box the Haar cascades propose.

The cascades, set loose enough to find small, tightly cut and half-turned faces, also fire on
blobs, spoons, letters and noise. Each of their boxes is cropped exactly as the emotion model's
input is (`crop_face` -> 48x48 grayscale), its contrast normalised, and scored by small
convolutional networks (79k weights each; the shipped `models/face_verifier.keras` is a weighted
mean of five, about 1.9 MB). The detector adds the log of the number of cascade windows behind the
box; boxes scoring under its threshold never reach the user.

It learns from the cascades' own boxes on generated frames (`synthetic.py`): FER2013 *train* faces
on plain, gradient, picture and texture backgrounds; as non-faces, boxes on face-free frames made
of half of scikit-image's face-free pictures and of its motorcycle pair, a cluttered garage (also
altered: inverted, turned, blurred, a small part blown up), generated textures, shaded blobs (spoons,
lamps), strokes (grass, twigs, hair) and pebbles (gravel, foliage), and faces scrambled (upside down,
shuffled in blocks, phase-scrambled) so that it learns a face's arrangement rather than its grey
levels. The detection benchmark's frames use FER2013 *test* faces, and its `holdout` frames the
other half of the pictures.

The shipped verifier is a weighted mean of five networks, each 25-80 minutes on 2 cores (most of it
running the cascades). The first two learned without the strokes, pebbles and blown-up parts (the
code of commit d742989) and were averaged into the former verifier:

    python -m fer_core.training.verifier --data ../shared/fer2013 --frames 500 --epochs 10 --out v1.keras
    python -m fer_core.training.verifier --data ../shared/fer2013 --frames 1100 --epochs 14 --out v2.keras
    python -m fer_core.training.verifier --average v1.keras v2.keras --out v12.keras

the third with them (before the detector's mirror-image pass, whose boxes the same command now
also takes), and the former shipped file weighed it as much as the former two together:

    python -m fer_core.training.verifier --data ../shared/fer2013 --frames 1100 --epochs 14 --seed 7 --out v7.keras
    python -m fer_core.training.verifier --average v12.keras v7.keras --out v3.keras

Those three learned before the detector searched turned copies of the image
(`DetectorSettings.tilts`); the fourth learned with those boxes too (the code of commit b5d6f20), and
the former shipped file gave it a quarter of the log-odds (`docs/detection.md` has the figures):

    python -m fer_core.training.verifier --data ../shared/fer2013 --frames 800 --epochs 12 --seed 11 --out v11.keras
    python -m fer_core.training.verifier --average v3.keras v11.keras --weights 3 1 --out v4.keras

The fifth, the first with the motorcycle pair among its pictures (the code of commit f0a7558, before
the detector searched 15-degree copies), has a quarter of the shipped file's log-odds:

    python -m fer_core.training.verifier --data ../shared/fer2013 --frames 500 --epochs 10 --seed 13 --out v13.keras
    python -m fer_core.training.verifier --average v4.keras v13.keras --weights 3 1
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fer_core.model.opencv_net import opencv_net
from fer_core.model.preprocess import FACE_SIZE, crop_face, to_face_input
from fer_core.paths import PROJECT_DIR

if TYPE_CHECKING:
    pass

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
    """Scores crops; the threshold is the detector's (`DetectorSettings.min_face_score`)."""

    def __init__(self, model):
        from fer_core.model.architecture import for_inference
        from fer_core.model.classifier import import_tensorflow

        tf = import_tensorflow()
        self.model = model
        inference = for_inference(model)
        self._inference = inference
        self._run = opencv_net(inference)  # faster on a CPU (see Classifier); else TensorFlow's graph, traced here
        if self._run is None:
            spec = tf.TensorSpec((None, FACE_SIZE, FACE_SIZE, 1), tf.float32)
            graph = tf.function(lambda batch: inference(batch, training=False), input_signature=[spec])
            traced = graph.get_concrete_function()  # called without dispatch (see classifier._tensorflow_graph)
            self._run = lambda batch: traced(batch).numpy()

    @classmethod
    def load(cls, path: Path = VERIFIER_PATH) -> FaceVerifier:
        from fer_core.model.classifier import import_tensorflow

        import_tensorflow()
        import keras

        verifier = cls(keras.models.load_model(path, compile=False, safe_mode=True))
        verifier.scores(np.zeros((1, FACE_SIZE, FACE_SIZE), np.uint8))  # trace now, not on the first frame
        return verifier

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
