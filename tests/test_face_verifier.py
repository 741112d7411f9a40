"""The face verifier: the shipped network tells faces from non-faces; its training runs end to end."""

import numpy as np
import pytest

from fer_core.faces.verifier import FaceVerifier
from fer_core.training.synthetic import load_faces
from fer_core.training.verifier import _scrambled, average, train


@pytest.fixture(scope="module")
def verifier() -> FaceVerifier:
    return FaceVerifier.load()


def test_the_shipped_verifier_tells_test_faces_from_the_same_faces_scrambled(verifier, fer2013):
    # FER2013 *test* faces (it learned from train faces): whole, and made non-faces with their own grey levels
    faces = np.stack([face for face, _ in load_faces(fer2013 / "test", None)[::12]])
    rng = np.random.default_rng(0)
    scrambled = np.stack([_scrambled(rng, face) for face in faces])
    assert len(faces) > 250
    assert np.mean(verifier.scores(faces) > 0) > 0.9
    assert np.mean(verifier.scores(scrambled) < 0) > 0.9


def test_training_and_averaging_write_verifiers_the_detector_can_load(tiny_fer, tmp_path):
    first, second, mean = tmp_path / "a.keras", tmp_path / "b.keras", tmp_path / "mean.keras"
    train(tiny_fer, first, frames=2, epochs=1, seed=1)
    train(tiny_fer, second, frames=2, epochs=1, seed=2)
    average([first, second], mean)
    crops = np.random.default_rng(0).integers(0, 256, (5, 48, 48), np.uint8)
    a, b, m = (FaceVerifier.load(path).scores(crops) for path in (first, second, mean))
    assert m.shape == (5,) and np.all(np.isfinite(m))
    np.testing.assert_allclose(m, (a + b) / 2, rtol=1e-4, atol=1e-4)
    # a weighted mean, one member itself a mean (opened up into its networks, each with its share)
    weighted = tmp_path / "weighted.keras"
    average([mean, first], weighted, weights=[3, 1])
    w = FaceVerifier.load(weighted)
    np.testing.assert_allclose(w.scores(crops), 0.75 * m + 0.25 * a, rtol=1e-4, atol=1e-4)
    assert len(w.model.layers) == 2 + 3, "one input, three networks, one mean"
    with pytest.raises(ValueError, match="one positive weight per member"):
        average([first, second], weighted, weights=[1])
