import threading

import numpy as np
import pytest

from fer_core.faces.verifier import FaceVerifier, normalized
from fer_core.model.classifier import LIVE_MODEL, Classifier
from fer_core.model.opencv_net import OpenCVNet, opencv_net
from fer_core.model.preprocess import crop_face, to_face_input


@pytest.fixture(scope="module")
def faces(astronaut_bgr) -> np.ndarray:
    """The astronaut's face at three framings, and two crops of the photo beside it: (5, 48, 48, 1) uint8."""
    boxes = [(170, 70, 100, 100), (160, 60, 120, 120), (185, 85, 70, 70), (300, 300, 90, 90), (0, 400, 100, 100)]
    return np.stack([to_face_input(crop_face(astronaut_bgr, box)) for box in boxes])[..., None]


def test_the_live_model_runs_in_opencv_and_reads_as_in_tensorflow(faces):
    classifier = Classifier.load(LIVE_MODEL)
    assert classifier.engine == "opencv"
    probs = classifier.predict_batch(faces)
    assert probs[0].argmax() == 3  # happy: the astronaut smiles
    in_tensorflow = Classifier(classifier.model, engine="tensorflow")
    assert in_tensorflow.engine == "tensorflow"
    assert np.allclose(in_tensorflow.predict_batch(faces), probs, atol=1e-5)
    with pytest.raises(ValueError, match="unknown engine"):
        Classifier(classifier.model, engine="onnx")


def test_the_face_verifier_runs_in_opencv_and_scores_as_in_tensorflow(faces):
    verifier = FaceVerifier.load()
    assert isinstance(verifier._run, OpenCVNet)
    scores = verifier.scores(faces[..., 0])
    assert np.allclose(scores, np.ravel(verifier.model(normalized(faces[..., 0]), training=False)), atol=1e-4)
    assert scores[0] > 0 > scores[4]  # her face is a face; a patch of her orange suit is not


def test_networks_with_other_layers_stay_with_tensorflow(photo_model):
    import keras
    from keras import layers

    assert Classifier(photo_model).engine == "tensorflow"  # the photo ensemble's mirrored views
    inputs = keras.Input((48, 48, 1))
    leaky = layers.LeakyReLU()(layers.Conv2D(4, 3, padding="same")(inputs))
    outputs = layers.Dense(7, activation="softmax")(layers.GlobalAveragePooling2D()(leaky))
    assert opencv_net(keras.Model(inputs, outputs)) is None


def test_calls_from_several_threads_each_get_their_own_faces_read(faces):
    classifier = Classifier.load(LIVE_MODEL)
    expected = [classifier.predict_batch(faces[i : i + 1]) for i in range(len(faces))]
    wrong: list[int] = []

    def read(index: int) -> None:
        for _ in range(30):
            if not np.allclose(classifier.predict_batch(faces[index : index + 1]), expected[index], atol=1e-5):
                wrong.append(index)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(faces))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong
