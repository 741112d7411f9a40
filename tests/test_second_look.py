"""The second look: the live model's layers, trained on, tell faces from non-faces; the detector lets through
a face the verifier nearly missed; the face-or-not layer is fitted and folded in as it should be."""

import warnings
from dataclasses import replace

import numpy as np
import pytest

from fer_core.faces.detection import DetectorSettings
from fer_core.faces.second_look import SecondLook
from fer_core.training.second_look import fit_logistic, train
from fer_core.training.synthetic import load_faces


@pytest.fixture(scope="module")
def second_look() -> SecondLook:
    return SecondLook.load()


def test_the_shipped_second_look_tells_test_faces_from_crops_of_face_free_pictures(second_look, fer2013):
    """FER2013 *test* faces (it learned from train faces) against boxes anywhere on scikit-image's face-free
    pictures, and the same faces upside down: it learned from scrambled faces too, so it judges a face's
    arrangement, not only its grey levels, where a box must reach to pass."""
    import cv2

    from fer_core.faces.verifier import box_crop
    from fer_core.training.synthetic import load_pictures

    faces = np.stack([face for face, _ in load_faces(fer2013 / "test", None)[::12]])
    rng = np.random.default_rng(0)
    others = []
    for picture in load_pictures(None, None):
        gray = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
        for _ in range(20):
            side = int(rng.uniform(24, min(gray.shape) / 2))
            x, y = int(rng.integers(0, gray.shape[1] - side)), int(rng.integers(0, gray.shape[0] - side))
            others.append(box_crop(gray, (x, y, side, side)))
    assert len(faces) > 250 and len(others) > 300
    assert np.mean(second_look.scores(faces) > 0) > 0.9
    assert np.mean(second_look.scores(np.stack(others)) < 0) > 0.9
    assert np.max(second_look.scores(np.stack(others))) < DetectorSettings.second_look_min
    upside_down = second_look.scores(np.ascontiguousarray(faces[:, ::-1]))
    assert np.mean(upside_down >= DetectorSettings.second_look_min) < 0.05


def test_a_face_the_verifier_nearly_missed_is_found_on_a_second_look(fer2013):
    """Frame 81 of the detection benchmark's `holdout` frames with seed 6: one face on a plain background,
    whose boxes the verifier scores a little under the threshold and the second look takes for a face."""
    from fer_core.faces.detection import FaceDetector
    from fer_core.training.synthetic import face_frame, load_pictures, matches

    faces, pictures = load_faces(fer2013 / "test", "holdout"), load_pictures(None, "holdout")
    rng = np.random.default_rng(6)
    frames = [face_frame(rng, faces, pictures) for _ in range(82)]
    frame = frames[81]
    assert len(frame.boxes) == 1
    detector = FaceDetector()
    without = detector.detect(frame.image, replace(detector.settings, second_look_from=None))
    assert not any(matches(box, frame.boxes[0]) for box in without)
    assert [box for box in detector.detect(frame.image) if matches(box, frame.boxes[0])]


def test_the_fitted_regression_separates_two_clouds_and_weighs_the_classes_alike():
    rng = np.random.default_rng(0)
    # 100 of one class against 900 of the other, two Gaussian clouds apart along the first feature
    x = np.r_[rng.normal(0, 1, (100, 5)) + [2, 0, 0, 0, 0], rng.normal(0, 1, (900, 5)) - [2, 0, 0, 0, 0]]
    y = np.r_[np.ones(100), np.zeros(900)]
    weights = fit_logistic(x, y)
    logodds = x @ weights[:-1] + weights[-1]
    assert weights[0] > 2 * np.abs(weights[1:-1]).max()
    assert np.mean(logodds[y == 1] > 0) > 0.95 and np.mean(logodds[y == 0] < 0) > 0.95
    # balanced: the boundary lies midway between the clouds, not pushed towards the smaller one
    assert abs(-weights[-1] / weights[0]) < 0.3


def test_training_writes_a_second_look_the_detector_can_load(tiny_fer, tmp_path):
    out = tmp_path / "second_look.keras"
    train(tiny_fer, out, frames=2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # Keras warns of a model built to take a list of one input
        look = SecondLook.load(out)
    crops = np.random.default_rng(0).integers(0, 256, (5, 48, 48), np.uint8)
    scores = look.scores(crops)
    assert scores.shape == (5,) and np.all(np.isfinite(scores))
    # the run engine (OpenCV's on a CPU) reads as the Keras model it was written from
    expected = np.asarray(look.model(crops[..., None].astype(np.float32), training=False))[:, 0]
    np.testing.assert_allclose(scores, expected, rtol=1e-3, atol=1e-3)
