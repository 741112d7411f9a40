"""The training recipe of the shipped models (fer_core/training/recipe.py), on tiny generated data."""

import json
import shutil

import numpy as np
import pytest

from fer_core.model.classifier import Classifier
from fer_core.training.recipe import (
    AugmentedFaces,
    RecipeConfig,
    augment_batch,
    average_with_start,
    distillation_loss,
    prune,
    train,
    warp_matrices,
    write_card,
)


def _faces(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Faces whose class is written in their brightness, so a few steps can learn something."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, n)
    images = np.clip(labels[:, None, None] * 36 + rng.normal(0, 8, (n, 48, 48)), 0, 255).astype(np.uint8)
    return images, labels


def test_augmented_faces_keep_their_size_and_range_but_each_changes_differently():
    face = np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (48, 1))
    variants = augment_batch(np.stack([face] * 20), np.random.default_rng(0))
    assert variants.shape == (20, 48, 48) and variants.dtype == np.float32
    assert variants.min() >= 0 and variants.max() <= 255
    assert all(np.abs(v - face).mean() > 1 for v in variants)
    assert np.std([v.mean() for v in variants]) > 0  # not the same change each time


def test_low_resolution_faces_lose_their_fine_detail_and_leave_the_other_draws_as_they_were():
    import cv2

    rng = np.random.default_rng(1)
    ramp = np.tile(np.linspace(20, 230, 48), (48, 1))
    faces = np.clip(ramp + rng.normal(0, 25, (16, 48, 48)), 0, 255).astype(np.uint8)  # a ramp, fine grain
    plain = augment_batch(faces, np.random.default_rng(0), erasing=0.0)
    blurred = augment_batch(faces, np.random.default_rng(0), erasing=0.0, low_res=1.0)
    assert blurred.shape == plain.shape and blurred.dtype == np.float32
    assert 0 <= blurred.min() and blurred.max() <= 255

    def roughness(x):  # how much neighbouring pixels differ
        return np.abs(np.diff(x, axis=1)).mean()

    def coarse(x):
        return cv2.resize(x, (6, 6), interpolation=cv2.INTER_AREA)

    for b, p in zip(blurred, plain, strict=True):
        assert roughness(b) < 0.7 * roughness(p)  # the grain is gone ...
        assert np.abs(coarse(b) - coarse(p)).max() < 12  # ... the same flip, turn, zoom and contrast kept


def test_the_batched_warp_matrices_are_opencvs_turn_and_zoom_plus_the_shift():
    import cv2

    rng = np.random.default_rng(1)
    degrees, scale, shift = rng.uniform(-15, 15, 5), rng.uniform(0.85, 1.15, 5), rng.uniform(-6, 6, (5, 2))
    for matrix, d, s, (dx, dy) in zip(warp_matrices(degrees, scale, shift, 48), degrees, scale, shift, strict=True):
        expected = cv2.getRotationMatrix2D((24, 24), d, s) + [[0, 0, dx], [0, 0, dy]]
        np.testing.assert_allclose(matrix, expected, atol=1e-9)


def test_batches_cover_every_face_once_per_epoch_in_a_new_order_each_epoch():
    images, labels = _faces(50)
    faces = AugmentedFaces(images[..., None], np.eye(7, dtype=np.float32)[labels], RecipeConfig("", "", batch_size=16))
    orders = []
    for epoch in range(2):
        faces.start_epoch(epoch)
        orders.append(faces.order.copy())
        batches = [faces.batch(i) for i in range(len(faces))]
        assert [len(x) for x, _ in batches] == [16, 16, 16, 2]
        assert all(x.dtype == np.float32 and x.shape[1:] == (48, 48, 1) for x, _ in batches)
    assert sorted(orders[0]) == list(range(50)) and not np.array_equal(orders[0], orders[1])


def test_distillation_loss_is_lowest_when_the_student_agrees_with_teacher_and_label():
    import keras

    loss = distillation_loss(RecipeConfig("", ""))
    label = np.eye(7, dtype=np.float32)[[3]]
    teacher = np.array([[0.05, 0.0, 0.05, 0.8, 0.05, 0.05, 0.0]], np.float32)
    agreeing = np.concatenate([teacher, teacher], axis=1)
    disagreeing = np.concatenate([np.roll(teacher, 1, axis=1), teacher], axis=1)
    value = keras.ops.convert_to_numpy
    assert value(loss(label, agreeing)) < value(loss(label, disagreeing))


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    images, labels = _faces(96)
    test_images, test_labels = _faces(32, seed=1)
    path = tmp_path_factory.mktemp("data") / "faces.npz"
    np.savez(path, x_train=images, y_train=labels, x_test=test_images, y_test=test_labels)
    return str(path)


def test_a_member_and_a_distilled_student_train_and_load_like_any_project_model(tiny_data, tmp_path):
    small = {"widths": (8, 8, 16, 16), "batch_size": 32, "epochs": 2, "warmup_epochs": 1, "workers": 1}
    member = train(RecipeConfig(tiny_data, str(tmp_path / "member"), **small), log=lambda _: None)
    student = train(
        RecipeConfig(tiny_data, str(tmp_path / "student"), teacher=(str(member / "model.keras"),), **small),
        log=lambda _: None,
    )
    for run in (member, student):
        history = json.loads((run / "history.json").read_text())
        assert [h["epoch"] for h in history] == [1, 2] and "accuracy" in history[0]
        probs = Classifier.load(run / "model.keras").predict_batch(np.zeros((2, 48, 48, 1), np.uint8))
        assert probs.shape == (2, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert json.loads((student / "recipe.json").read_text())["config"]["teacher"]


def test_a_time_budget_sets_the_epoch_count_from_measured_epochs(tiny_data, tmp_path):
    config = RecipeConfig(tiny_data, str(tmp_path / "run"), widths=(8, 8, 16, 16), batch_size=32, workers=1)
    config.time_budget = 31  # 30 s are kept for recompiling and saving: the probe epochs leave ~1 s
    run = train(config, log=lambda _: None)
    epochs = json.loads((run / "recipe.json").read_text())["config"]["epochs"]
    assert epochs == 2 + config.warmup_epochs + 1  # two probe epochs, then the shortest schedule allowed


@pytest.fixture(scope="module")
def fine_tuned(tiny_data, tmp_path_factory):
    """A carded run (`base`), and a run that started from its weights (`tuned`)."""
    root = tmp_path_factory.mktemp("runs")
    small = {"widths": (8, 8, 16, 16), "batch_size": 32, "epochs": 2, "warmup_epochs": 1, "workers": 1}
    quiet = {"log": lambda _: None}
    base = write_card(train(RecipeConfig(tiny_data, str(root / "base"), **small), **quiet), tiny_data, **quiet)
    init = str(base / "model.keras")
    tuned = train(RecipeConfig(tiny_data, str(root / "tuned"), init_from=init, **{**small, "epochs": 3}), **quiet)
    return base, tuned


def test_a_run_started_from_another_models_weights_counts_both_stages_on_its_card(tiny_data, fine_tuned, tmp_path):
    base, tuned = fine_tuned
    shipped = tmp_path / "base"  # the tuned run shipped in place of the model it started from
    shutil.copytree(base, shipped)
    for name in ("model.keras", "history.json", "recipe.json"):
        shutil.copy(tuned / name, shipped / name)
    recipe = json.loads((shipped / "recipe.json").read_text())
    recipe["config"]["init_from"] = str(shipped / "model.keras")
    (shipped / "recipe.json").write_text(json.dumps(recipe))
    for _ in range(2):  # carded again, it finds its own card where it started from: not a stage twice
        card = json.loads((write_card(shipped, tiny_data, log=lambda _: None) / "model_card.json").read_text())
        assert [(stage["name"], stage["epochs"]) for stage in card["stages"]] == [("base", 2), ("tuned", 3)]
        assert card["total_epochs"] == 5 and card["epochs_run"] == 3
    # Its curves go on from those of the model it started from: the base's 2 epochs, then its own 3.
    history = json.loads((tuned / "history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2, 3, 4, 5]
    assert history[:2] == json.loads((base / "history.json").read_text())


def test_a_fine_tuned_run_averaged_with_its_start_holds_the_mean_weights(tiny_data, fine_tuned, tmp_path):
    import keras

    base, tuned = fine_tuned
    averaged = average_with_start(tuned, tmp_path / "averaged", log=lambda _: None)
    weights = [keras.models.load_model(run / "model.keras").get_weights() for run in (base, tuned, averaged)]
    assert all(np.allclose(m, (a + b) / 2, atol=1e-6) for a, b, m in zip(*weights))
    assert not np.allclose(weights[0][0], weights[1][0])  # the two were different to begin with
    card = json.loads((write_card(averaged, tiny_data, log=lambda _: None) / "model_card.json").read_text())
    assert "averaged" in card["architecture"] and card["total_epochs"] == 5
    with pytest.raises(ValueError, match="--init-from"):
        average_with_start(base, tmp_path / "none")


def test_pruning_drops_the_channels_that_weigh_least_and_keeps_what_the_network_reads(fine_tuned, tmp_path):
    import keras

    base, _ = fine_tuned
    model = keras.models.load_model(base / "model.keras")
    # Silence the odd channels of every convolution (batch norm scale and shift 0: they read 0 after
    # the ReLU, so nothing downstream depends on them) and make the even ones weigh more than they did.
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    for conv in convs:
        norm = model.layers[model.layers.index(conv) + 1]
        gamma, beta, mean, variance = norm.get_weights()
        gamma[1::2], beta[1::2] = 0, 0
        norm.set_weights([gamma + np.sign(gamma), beta, mean, variance])
    shutil.copytree(base, tmp_path / "silenced")  # beside its card
    silenced = tmp_path / "silenced" / "model.keras"
    model.save(silenced)
    half = tuple(conv.filters // 2 for conv in convs[::2])
    pruned = prune(silenced, half, tmp_path / "half", log=lambda _: None)
    faces = np.random.default_rng(0).integers(0, 256, (16, 48, 48, 1), np.uint8)
    small = keras.models.load_model(pruned / "model.keras")
    assert [c.filters for c in small.layers if isinstance(c, keras.layers.Conv2D)] == [w for w in half for _ in (0, 1)]
    assert small.count_params() < model.count_params()
    reads = Classifier(model).predict_batch(faces)
    assert np.allclose(Classifier(small).predict_batch(faces), reads, atol=1e-5)
    # Its card carries the stages of the model it was cut from; at the model's own widths it is the model.
    card = json.loads((pruned / "model_card.json").read_text())
    assert card["stages"] == json.loads((base / "model_card.json").read_text())["stages"]
    same = prune(silenced, tuple(conv.filters for conv in convs[::2]), tmp_path / "same", log=lambda _: None)
    assert np.array_equal(Classifier.load(same / "model.keras").predict_batch(faces), reads)
    with pytest.raises(ValueError, match="fewer than"):
        prune(silenced, tuple(4 * w for w in half), tmp_path / "wider", log=lambda _: None)


def test_pack_writes_both_splits_to_one_file_that_training_reads(tmp_path):
    import cv2

    from fer_core.labels import EMOTIONS
    from fer_core.training.recipe import load_arrays, pack

    images, labels = _faces(21)
    for split in ("train", "test"):
        for i, (face, label) in enumerate(zip(images, labels, strict=True)):
            folder = tmp_path / "fer" / split / EMOTIONS[label]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{i}.png"), face)
    packed = pack(str(tmp_path / "fer"), tmp_path / "fer.npz", log=lambda _: None)
    for split in ("train", "test"):
        x, y = load_arrays(str(packed), split)
        x_folder, y_folder = load_arrays(str(tmp_path / "fer"), split)
        np.testing.assert_array_equal(x, x_folder)
        np.testing.assert_array_equal(y, y_folder)
        assert sorted(y.tolist()) == sorted(labels.tolist())


def test_framed_copies_are_the_faces_as_the_photo_detector_cuts_them_out(astronaut_bgr):
    from fer_core.faces.detection import FaceDetector
    from fer_core.model.preprocess import crop_face, to_face_input
    from fer_core.training.recipe import framed_copies

    # Her face as the detector frames it in the photo: in a picture of its own, it is framed alike.
    face = to_face_input(crop_face(astronaut_bgr, FaceDetector().detect(astronaut_bgr)[0]))
    images, labels = np.repeat(face[None], 12, axis=0), np.arange(12, dtype=np.uint8)
    crops, kept, ratios = framed_copies(images, labels, shards=2, log_every=0)
    assert len(crops) >= 10 and crops.shape[1:] == (48, 48) and crops.dtype == np.uint8
    assert set(kept.tolist()) <= set(labels.tolist()) and len(set(kept.tolist())) == len(kept)
    assert 0.85 <= np.median(ratios) <= 1.15
    # The crops are her face, a little off in place and size at times: a patch of the background
    # would not correlate with it.
    correlations = [np.corrcoef(crop.ravel().astype(float), face.ravel().astype(float))[0, 1] for crop in crops]
    assert np.median(correlations) > 0.6
