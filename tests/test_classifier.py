import numpy as np
import pytest

from fer_core.model.classifier import DEFAULT_MODEL, Classifier, ModelError

# The shipped models must keep at least these accuracies on FER2013's public test split: the
# photo model (an ensemble read with mirror views) scores 71.13% (the 71% asked of it), the live model
# (one view) 65.6%. The live model was fine-tuned for real photos and webcams (issue 43): it gave up
# 2.5 points here (68.1% before) for 3.2 points end to end on real photos of people it never saw
# (tests/test_real_faces.py holds those floors; docs/real_faces.md has the figures).
ACCURACY_FLOOR = 0.710
LIVE_ACCURACY_FLOOR = 0.650


def test_batch_and_single_calls_agree(pipeline):
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (5, 48, 48, 1), np.uint8)
    batch = pipeline.classifier.predict_batch(faces)
    singles = np.concatenate([pipeline.classifier.predict_batch(f[None]) for f in faces])
    assert batch.shape == (5, 7)
    assert np.allclose(batch, singles, atol=1e-5)
    assert pipeline.classifier.predict_batch(faces[:0]).shape == (0, 7)


def test_missing_and_damaged_model_files_raise_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Classifier.load(tmp_path / "none.keras")
    damaged = tmp_path / "damaged.keras"
    damaged.write_bytes((DEFAULT_MODEL.parent / "fer_live" / "model.keras").read_bytes()[:5000])
    with pytest.raises(ModelError, match="cannot be loaded"):
        Classifier.load(damaged)


def test_shipped_model_meets_the_accuracy_floor(pipeline, fer2013):
    from fer_core.reporting.scoring import evaluate_folder

    evaluation = evaluate_folder(pipeline, fer2013 / "test", crops=True)
    assert evaluation.n == 3589
    assert evaluation.accuracy >= ACCURACY_FLOOR
    # The photo model's targets besides accuracy: macro-F1, and the two rarest-read classes' recall
    # no lower than the first shipped model's (0.46 and 0.45); it scores 0.695, 0.61 and 0.51 (members
    # read in turn until sure, models/fer_vgg/evaluation.json).
    assert evaluation.macro_f1 >= 0.69
    assert evaluation.per_class["disgust"].recall >= 0.46 and evaluation.per_class["fear"].recall >= 0.45
    assert min(s.recall for s in evaluation.per_class.values()) > 0.2  # no class collapses


def test_live_model_meets_its_accuracy_floor_from_a_single_view(fer2013):
    from fer_core.datasets import load_split
    from fer_core.reporting.evaluation import evaluate_predictions
    from fer_core.resources import LIVE_MODEL

    test = load_split(fer2013, "test")
    probs = Classifier.load(LIVE_MODEL).predict_batch(test.images[..., None])
    evaluation = evaluate_predictions(test.labels, probs.argmax(axis=1))
    assert evaluation.accuracy >= LIVE_ACCURACY_FLOOR
    assert min(s.recall for s in evaluation.per_class.values()) > 0.2


def test_test_time_augmentation_averages_mirrored_views(pipeline):
    from fer_core.model.classifier import Classifier

    model = pipeline.classifier.model
    rng = np.random.default_rng(1)
    faces = rng.integers(0, 256, (3, 48, 48, 1), np.uint8)
    plain = Classifier.from_keras(model).predict_batch(faces)
    mirrored = Classifier.from_keras(model).predict_batch(faces[:, :, ::-1])
    flip = Classifier.from_keras(model, tta="flip").predict_batch(faces)
    assert np.allclose(flip, (plain + mirrored) / 2, atol=1e-5)
    shifted = Classifier.from_keras(model, tta="shift-flip").predict_batch(faces)
    assert shifted.shape == (3, 7) and np.allclose(shifted.sum(axis=1), 1, atol=1e-4)
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        Classifier.from_keras(model, tta="ten")


@pytest.mark.parametrize("name", ["photo ensemble", "live model", "face verifier"])
def test_the_inference_copy_folds_every_batch_norm_and_reads_as_the_model(name, astronaut_bgr, photo_model):
    import keras

    from fer_core.faces.verifier import VERIFIER_PATH
    from fer_core.model.architecture import for_inference
    from fer_core.model.classifier import load_model
    from fer_core.model.preprocess import to_face_input
    from fer_core.resources import LIVE_MODEL

    if name == "face verifier":
        model = keras.models.load_model(VERIFIER_PATH, compile=False)
    else:
        model = photo_model if name == "photo ensemble" else load_model(LIVE_MODEL)
    copy = for_inference(model)

    def norms(m):  # batch normalisations in `m` and the models nested in it
        nested = sum(norms(layer) for layer in m.layers if isinstance(layer, keras.Model))
        return nested + sum(isinstance(layer, keras.layers.BatchNormalization) for layer in m.layers)

    assert norms(model) > 0 and norms(copy) == 0
    rng = np.random.default_rng(2)
    face = to_face_input(astronaut_bgr[30:250, 120:330])[None, ..., None]
    faces = np.concatenate([face, rng.integers(0, 256, (4, 48, 48, 1), np.uint8)]).astype(np.float32)
    if name == "face verifier":
        faces = (faces - faces.mean((1, 2, 3), keepdims=True)) / (faces.std((1, 2, 3), keepdims=True) + 8)
    expected = keras.ops.convert_to_numpy(model(faces, training=False))
    assert np.allclose(keras.ops.convert_to_numpy(copy(faces, training=False)), expected, atol=1e-4, rtol=1e-4)


def test_a_sequential_model_is_run_as_it_is():
    import keras

    from fer_core.model.architecture import for_inference

    model = keras.Sequential(
        [keras.Input((48, 48, 1)), keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization(), keras.layers.Flatten(),
         keras.layers.Dense(7, activation="softmax")]
    )  # fmt: skip
    assert for_inference(model) is model
    faces = np.random.default_rng(3).integers(0, 256, (2, 48, 48, 1), np.uint8)
    expected = keras.ops.convert_to_numpy(model(faces.astype(np.float32), training=False))
    assert np.allclose(Classifier.from_keras(model).predict_batch(faces), expected, atol=1e-5)
