import numpy as np
import pytest

from fer_core.labels import EMOTIONS
from fer_core.model.classifier import DEFAULT_MODEL, Classifier, ModelError

EMOTION_INDEX = {name: index for index, name in enumerate(EMOTIONS)}

# The shipped models must keep at least these accuracies on FER2013's public test split: the
# photo model (an ensemble read with mirror views) scores 71.08% (the 71% asked of it), the live model
# (one view) 68.1%.
ACCURACY_FLOOR = 0.710
LIVE_ACCURACY_FLOOR = 0.675
# The photo model reads 8 views of a face, so it is scored on a fixed stratified sample of test/: up to
# this many faces of each class (all 56 of disgust, 1,256 in all, a third of the split's work). Each
# class's recall in the sample estimates the split's; the split's figures are estimated from them
# weighted by the classes' sizes, and a floor is held with a one-sided 95% allowance for the sample
# (Z standard errors): a model that meets a floor on the whole split passes 95 times in 100 samples.
SAMPLE_PER_CLASS = 200
Z = 1.645


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


def _split_figures(confusion: np.ndarray, split_counts: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Accuracy, macro-F1 and per-class recall of the whole split, from a stratified sample's confusion
    matrix (rows: true class) with each row scaled up to its class's size in the split."""
    scaled = confusion * (split_counts / confusion.sum(axis=1))[:, None]
    hits = np.diag(scaled)
    recall = hits / split_counts
    predicted = scaled.sum(axis=0)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(hits), where=both > 0)
    return hits.sum() / split_counts.sum(), float(f1.mean()), recall


def test_stratified_estimate_matches_the_whole_split_when_the_sample_is_the_split():
    confusion = np.array([[8, 2], [1, 9]], float)
    accuracy, macro_f1, recall = _split_figures(confusion, confusion.sum(axis=1))
    assert accuracy == pytest.approx(0.85) and recall == pytest.approx([0.8, 0.9])
    assert macro_f1 == pytest.approx((16 / 19 + 18 / 21) / 2)  # F1 = 2 TP / (2 TP + FP + FN)
    half = _split_figures(confusion / 2, confusion.sum(axis=1))  # a sample of half of each class
    assert half[0] == pytest.approx(accuracy) and half[1] == pytest.approx(macro_f1)


@pytest.fixture(scope="module")
def test_sample(fer2013, tmp_path_factory):
    """The fixed stratified sample of FER2013 test/ as a <class>/<image> folder of links, and the
    number of faces of each class in the whole split."""
    from fer_core.datasets import list_class_folder

    items = list_class_folder(fer2013 / "test")
    folder = tmp_path_factory.mktemp("test_sample")
    counts = np.zeros(len(EMOTIONS))
    for label, name in enumerate(EMOTIONS):
        paths = sorted(path for path, item_label in items if item_label == label)
        counts[label] = len(paths)
        (folder / name).mkdir()
        for index in np.random.default_rng(label).permutation(len(paths))[:SAMPLE_PER_CLASS]:
            (folder / name / paths[index].name).symlink_to(paths[index].resolve())
    return folder, counts


def test_shipped_model_meets_the_accuracy_floor(pipeline, test_sample):
    from fer_core.reporting.scoring import evaluate_folder

    folder, split_counts = test_sample
    assert split_counts.sum() == 3589
    evaluation = evaluate_folder(pipeline, folder, crops=True)
    confusion = np.array(evaluation.confusion_matrix, float)
    sampled = confusion.sum(axis=1)
    assert sampled.sum() == evaluation.n == 1256
    accuracy, macro_f1, recall = _split_figures(confusion, split_counts)

    # Standard errors: each class's recall is a proportion drawn without replacement from its class
    # (none for disgust, sampled whole); macro-F1's from 2,000 resamples of the sampled classes' rows.
    shares = split_counts / split_counts.sum()
    finite = (split_counts - sampled) / np.maximum(split_counts - 1, 1)
    recall_se = np.sqrt(recall * (1 - recall) / sampled * finite)
    accuracy_se = np.sqrt(np.sum((shares * recall_se) ** 2))
    rng = np.random.default_rng(0)
    resampled_f1 = []
    for _ in range(2000):
        rows = [
            rng.multinomial(int(n), row / n) if left > 0 else row
            for row, n, left in zip(confusion, sampled, split_counts - sampled)
        ]
        resampled_f1.append(_split_figures(np.array(rows, float), split_counts)[1])
    f1_se = float(np.std(resampled_f1))
    print(
        f"split estimated from {evaluation.n} faces: accuracy {accuracy:.4f} (floor "
        f"{ACCURACY_FLOOR - Z * accuracy_se:.4f}), macro-F1 {macro_f1:.4f} (floor {0.68 - Z * f1_se:.4f})"
    )

    assert accuracy >= ACCURACY_FLOOR - Z * accuracy_se
    # The photo model's targets besides accuracy: macro-F1, and the two rarest-read classes' recall
    # no lower than the first shipped model's (0.46 and 0.45); it scores 0.697, 0.59 and 0.52 on the split.
    assert macro_f1 >= 0.68 - Z * f1_se
    disgust, fear = EMOTION_INDEX["disgust"], EMOTION_INDEX["fear"]
    assert recall[disgust] >= 0.46 - Z * recall_se[disgust] and recall[fear] >= 0.45 - Z * recall_se[fear]
    assert np.all(recall > 0.2 - Z * recall_se)  # no class collapses


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
    plain = Classifier(model).predict_batch(faces)
    mirrored = Classifier(model).predict_batch(faces[:, :, ::-1])
    flip = Classifier(model, tta="flip").predict_batch(faces)
    assert np.allclose(flip, (plain + mirrored) / 2, atol=1e-5)
    shifted = Classifier(model, tta="shift-flip").predict_batch(faces)
    assert shifted.shape == (3, 7) and np.allclose(shifted.sum(axis=1), 1, atol=1e-4)
    with pytest.raises(ValueError, match="unknown test-time augmentation"):
        Classifier(model, tta="ten")


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
    assert np.allclose(Classifier(model).predict_batch(faces), expected, atol=1e-5)
