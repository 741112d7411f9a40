import numpy as np
import pytest

from fer_core.datasets import load_split
from fer_core.model import int8_net
from fer_core.model.classifier import DEFAULT_MODEL, LIVE_MODEL, Classifier
from fer_core.model.ensemble import MEMBER_FILE, read_manifest
from fer_core.model.int8_net import int8_file, read_int8_file, write_int8_file
from fer_core.model.opencv_net import gpu_present, read_opencv_file
from fer_core.model.preprocess import crop_face, to_face_input
from tests.threads import misread_faces

# The photo model's members; the live model stays in floats (its 8-bit copy read the held-out real photos under
# the floor tests/test_real_faces.py holds it to: docs/speed.md).
PHOTO_MEMBERS = [d / MEMBER_FILE for d in read_manifest(DEFAULT_MODEL).member_dirs(DEFAULT_MODEL)]
no_gpu = pytest.mark.skipif(gpu_present(), reason="with an NVIDIA GPU the networks run in TensorFlow, not the copies")


@pytest.fixture(scope="module")
def test_faces(fer2013) -> np.ndarray:
    """400 FER2013 test/ faces (faces the copies' ranges were never set on), (N, 48, 48, 1) uint8."""
    return load_split(fer2013, "test").images[::9][:400, ..., None]


@no_gpu
@pytest.mark.parametrize("keras_path", PHOTO_MEMBERS, ids=lambda p: p.parent.name)
def test_every_photo_model_member_keeps_an_8_bit_copy_that_reads_as_the_float_network(keras_path, test_faces):
    copy = read_int8_file(keras_path)
    assert copy is not None, f"run: python -m fer_core.model.int8_net --data ../shared/fer2013 {keras_path}"
    float_net = read_opencv_file(keras_path)  # the same network in 32-bit floats (test_opencv_net: as in Keras)
    expected, got = float_net(test_faces), copy(test_faces)
    assert np.mean(expected.argmax(1) == got.argmax(1)) >= int8_net.MIN_AGREEMENT
    assert np.abs(expected - got).mean() <= int8_net.MAX_MEAN_ERROR


@no_gpu
def test_the_photo_model_runs_from_its_8_bit_copies_and_the_live_model_from_its_opencv_copy(astronaut_bgr):
    face = to_face_input(crop_face(astronaut_bgr, (170, 70, 100, 100)))[None, ..., None]
    photo, live = Classifier.load(DEFAULT_MODEL), Classifier.load(LIVE_MODEL)
    assert (photo.engine, live.engine) == ("litert-int8", "opencv")
    assert photo._model is None and live._model is None  # no Keras model read
    assert photo.predict_batch(face).argmax() == live.predict_batch(face).argmax() == 3  # happy: she smiles
    assert photo.model.count_params() > 10_000_000  # read when asked for


@no_gpu
def test_an_8_bit_copy_is_written_checked_and_never_read_for_other_weights(tmp_path, tiny_fer, monkeypatch):
    import keras

    from fer_core.model.architecture import build_vgg

    path = tmp_path / "model.keras"
    keras.utils.set_random_seed(1)
    build_vgg(widths=(4, 8), convs_per_block=1).save(path)
    first = write_int8_file(path, tiny_fer)
    assert first == int8_file(path) and Classifier.load(path).engine == "litert-int8"
    keras.utils.set_random_seed(2)
    build_vgg(widths=(4, 8), convs_per_block=1).save(path)  # new weights, the old copy still there
    assert first.is_file() and read_int8_file(path) is None
    assert Classifier.load(path).engine != "litert-int8"
    second = write_int8_file(path, tiny_fer)
    assert second != first and sorted(tmp_path.glob("*.tflite")) == [second]  # the stale copy is gone
    monkeypatch.setattr(int8_net, "MIN_AGREEMENT", 1.01)  # no copy can agree that well
    with pytest.raises(ValueError, match="8-bit copy"):
        write_int8_file(path, tiny_fer)
    assert sorted(tmp_path.glob("*.tflite")) == [second]  # a refused copy is not written


def test_a_damaged_8_bit_copy_is_not_read(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"weights")
    int8_file(path).write_bytes(b"not a flatbuffer")
    assert read_int8_file(path) is None


@no_gpu
def test_the_8_bit_photo_model_reads_each_threads_own_faces(astronaut_bgr):
    boxes = [(170, 70, 100, 100), (160, 60, 120, 120), (300, 300, 90, 90), (0, 400, 100, 100)]
    faces = np.stack([to_face_input(crop_face(astronaut_bgr, box)) for box in boxes])[..., None]
    classifier = Classifier.load(DEFAULT_MODEL)
    assert classifier.engine == "litert-int8"
    assert not misread_faces(classifier, faces, rounds=20, atol=1e-6)  # without Int8Net's lock, the interpreter raises
