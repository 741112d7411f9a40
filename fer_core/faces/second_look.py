"""A second look at the boxes the face verifier nearly passed, by a network that knows faces well.

The verifier (`face_verifier.py`) is small, so that it can score every box the cascades propose. Of
the faces it still misses, a third get a box that scores just under the detector's threshold; so do
a few boxes on face-free pictures. The live emotion model, trained on 28,709 FER2013 faces, has seen
far more faces than the verifier: its convolutional layers, up to their global average, with one
face-or-not layer, learn from the verifier's own training boxes (`face_verifier.crops_from_frames`:
FER2013 *train* faces on generated frames, `tune` pictures, the motorcycle pair, hard frames,
scrambled faces): first the layer alone, fitted by logistic regression on the live model's features,
then every layer trained on from there for a few epochs. They tell the faces among those boxes from
the rest far better than the verifier. The detector asks it only about boxes scored in a band under
its threshold (`DetectorSettings.second_look_from`), so it costs a few crops a frame.
`docs/detection.md` (*A second look*, *The second look trained on*) has the figures.

The shipped `models/face_second_look.keras` (4.8 MB; on 2 cores, 30 minutes for the boxes and 4 for the
training, beside other work):

    python -m fer_core.training.second_look --data ../shared/fer2013 --frames 200 --seed 101
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_core.faces.verifier import VERIFIER_PATH, FaceVerifier
from fer_core.model.preprocess import FACE_SIZE

SECOND_LOOK_PATH = VERIFIER_PATH.parent / "face_second_look.keras"


class SecondLook(FaceVerifier):
    """Log-odds that each box is a face, from the live model's features; read from the crops as they are
    (the emotion model's own input), not contrast-normalised as the verifier's are."""

    @classmethod
    def load(cls, path: Path = SECOND_LOOK_PATH) -> SecondLook:
        return super().load(path)

    def _prepared(self, faces: np.ndarray) -> np.ndarray:
        return np.asarray(faces, np.float32).reshape(len(faces), FACE_SIZE, FACE_SIZE, 1)
