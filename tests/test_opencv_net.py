import subprocess
import sys

import cv2
import numpy as np
import pytest

from fer_core.faces.verifier import VERIFIER_PATH, FaceVerifier, normalized
from fer_core.model.classifier import DEFAULT_MODEL, LIVE_MODEL, Classifier, load_model
from fer_core.model.ensemble import MEMBER_FILE, read_manifest
from fer_core.model.opencv_net import (
    OpenCVNet,
    gpu_present,
    opencv_file,
    opencv_net,
    read_opencv_file,
    write_opencv_file,
)
from fer_core.model.preprocess import crop_face, to_face_input
from fer_core.paths import PROJECT_DIR
from tests.threads import misread_faces

SHIPPED_NETWORKS = [d / MEMBER_FILE for d in read_manifest(DEFAULT_MODEL).member_dirs(DEFAULT_MODEL)]
SHIPPED_NETWORKS += [LIVE_MODEL, VERIFIER_PATH]
no_gpu = pytest.mark.skipif(gpu_present(), reason="with an NVIDIA GPU the networks run in TensorFlow, not the copies")


@pytest.fixture(scope="module")
def faces(astronaut_bgr) -> np.ndarray:
    """The astronaut's face at three framings, and two crops of the photo beside it: (5, 48, 48, 1) uint8."""
    boxes = [(170, 70, 100, 100), (160, 60, 120, 120), (185, 85, 70, 70), (300, 300, 90, 90), (0, 400, 100, 100)]
    return np.stack([to_face_input(crop_face(astronaut_bgr, box)) for box in boxes])[..., None]


@no_gpu
def test_the_live_models_opencv_copy_reads_as_in_tensorflow(faces):
    copy = Classifier(read_opencv_file(LIVE_MODEL), "opencv")
    probs = copy.predict_batch(faces)
    assert probs[0].argmax() == 3  # happy: the astronaut smiles
    in_tensorflow = Classifier.from_keras(load_model(LIVE_MODEL), engine="tensorflow")
    assert in_tensorflow.engine == "tensorflow"
    assert np.allclose(in_tensorflow.predict_batch(faces), probs, atol=1e-5)
    with pytest.raises(ValueError, match="unknown engine"):
        Classifier.from_keras(in_tensorflow.model, engine="onnx")


def test_the_face_verifier_runs_in_opencv_and_scores_as_in_tensorflow(faces):
    verifier = FaceVerifier.load()
    assert isinstance(verifier._run, OpenCVNet)
    scores = verifier.scores(faces[..., 0])
    assert np.allclose(scores, np.ravel(verifier.model(normalized(faces[..., 0]), training=False)), atol=1e-4)
    assert scores[0] > 0 > scores[4]  # her face is a face; a patch of her orange suit is not


def test_networks_with_other_layers_stay_with_tensorflow(photo_model):
    import keras
    from keras import layers

    assert Classifier.from_keras(photo_model).engine == "tensorflow"  # the photo ensemble's mirrored views
    inputs = keras.Input((48, 48, 1))
    leaky = layers.LeakyReLU()(layers.Conv2D(4, 3, padding="same")(inputs))
    outputs = layers.Dense(7, activation="softmax")(layers.GlobalAveragePooling2D()(leaky))
    assert opencv_net(keras.Model(inputs, outputs)) is None


def test_calls_from_several_threads_each_get_their_own_faces_read(faces):
    assert not misread_faces(Classifier.load(LIVE_MODEL), faces, rounds=30, atol=1e-5)


@pytest.mark.parametrize("keras_path", SHIPPED_NETWORKS, ids=lambda p: p.parent.name + "/" + p.name)
def test_every_shipped_network_keeps_its_opencv_copy_and_it_reads_as_keras(keras_path, faces):
    import keras

    from fer_core.model.architecture import for_inference

    assert opencv_file(keras_path).is_file(), f"run: python -m fer_core.model.opencv_net {keras_path}"
    copy = OpenCVNet(cv2.dnn.readNetFromTensorflow(str(opencv_file(keras_path))))  # read_opencv_file's, GPU or not
    model = for_inference(keras.models.load_model(keras_path, compile=False))
    x = faces.astype(np.float32) if keras_path != VERIFIER_PATH else normalized(faces[..., 0])
    assert np.allclose(copy(x), np.asarray(model(x, training=False)), atol=1e-4)


@no_gpu
def test_the_photo_model_reads_from_its_opencv_copies_as_in_tensorflow(faces):
    from fer_core.model.classifier import SureFirst, _with_mirror_image

    manifest = read_manifest(DEFAULT_MODEL)
    copies = [read_opencv_file(folder / MEMBER_FILE) for folder in manifest.member_dirs(DEFAULT_MODEL)]
    in_opencv = SureFirst([_with_mirror_image(copy) for copy in copies], manifest.sure_at)  # as load reads them
    photo_model = load_model(DEFAULT_MODEL)
    keras_graph = Classifier.from_keras(photo_model, sure_at=manifest.sure_at, member_views=manifest.views)
    assert np.allclose(in_opencv(faces), keras_graph.predict_batch(faces), atol=1e-5)


@no_gpu
def test_predicting_and_the_video_path_never_import_tensorflow():
    script = (
        "import sys, cv2\n"
        "from fer_core.cli import main\n"
        "assert main(['predict', 'docs/astronaut.jpg']) == 0\n"
        "from fer_core.media.video import VideoSettings\n"
        "from fer_core.model.classifier import fast_model\n"
        "from fer_core.pipeline import EmotionPipeline\n"
        "video = EmotionPipeline.load(fast_model(), settings=VideoSettings().detector_settings())\n"
        "print(video.classifier.engine, len(video.analyze(cv2.imread('docs/astronaut.jpg'))))\n"
        "print('tensorflow imported:', 'tensorflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "happy" in done.stdout
    assert done.stdout.splitlines()[-2:] == ["opencv 1", "tensorflow imported: False"]


@no_gpu
def test_a_copy_of_other_weights_is_never_read(tmp_path, faces):
    import keras

    from fer_core.model.architecture import build_vgg

    path = tmp_path / "model.keras"
    keras.utils.set_random_seed(1)
    build_vgg(widths=(4, 8), convs_per_block=1).save(path)
    first = write_opencv_file(path)
    loaded = Classifier.load(path)
    assert loaded.engine == "opencv" and loaded._model is None
    keras.utils.set_random_seed(2)
    other = build_vgg(widths=(4, 8), convs_per_block=1)
    other.save(path)  # new weights, the old copy still there
    assert first.is_file() and read_opencv_file(path) is None
    again = Classifier.load(path)
    assert again._model is not None  # read from the .keras file, not the stale copy
    assert np.allclose(again.predict_batch(faces), Classifier.from_keras(other).predict_batch(faces), atol=1e-5)
    second = write_opencv_file(path)
    assert second != first and sorted(tmp_path.glob("*.pb")) == [second]  # the stale copy is gone
