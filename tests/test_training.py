"""The one trainer (`python -m fer_core train`), its augmentation and data, on tiny generated data:
a few steps each, so the whole file runs in a few minutes on a CPU."""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from fer_core.cli import main
from fer_core.model.classifier import MODELS_DIR, Classifier
from fer_core.model.opencv_net import gpu_present, opencv_file
from fer_core.training import augment
from fer_core.training.augment import Augmentation, AugmentedFaces, augment_batch, to_grey, warp_matrices
from fer_core.training.data import load_arrays, pack, validation_split
from fer_core.training.distillation import distillation_loss
from fer_core.training.trainer import Run, Stage, read_recipe, step_progress, train
from tests.conftest import ROOT

SMALL = {"widths": (8, 8, 16, 16), "batch_size": 16, "warmup_epochs": 1, "validation_fraction": 0.25}
QUIET = {"log": lambda *_: None}


def _faces(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Faces whose class is written in their brightness, so a few steps can learn something."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, n)
    images = np.clip(labels[:, None, None] * 36 + rng.normal(0, 8, (n, 48, 48)), 0, 255).astype(np.uint8)
    return images, labels


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> str:
    images, labels = _faces(96)
    test_images, test_labels = _faces(28, seed=1)
    path = tmp_path_factory.mktemp("data") / "faces.npz"
    np.savez(path, x_train=images, y_train=labels, x_test=test_images, y_test=test_labels)
    return str(path)


def _run(data: str, root, name: str, **stage) -> Run:
    return Run(data, str(root / name), str(root / f"work_{name}"), stages=[Stage(**{**SMALL, "epochs": 2, **stage})])


# Augmentation


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
    plain = augment_batch(faces, np.random.default_rng(0), Augmentation(erasing=0.0))
    blurred = augment_batch(faces, np.random.default_rng(0), Augmentation(erasing=0.0, low_res=1.0))
    assert blurred.shape == plain.shape and 0 <= blurred.min() and blurred.max() <= 255

    def roughness(x):  # how much neighbouring pixels differ
        return np.abs(np.diff(x, axis=1)).mean()

    def coarse(x):
        return cv2.resize(x, (6, 6), interpolation=cv2.INTER_AREA)

    for b, p in zip(blurred, plain, strict=True):
        assert roughness(b) < 0.7 * roughness(p)  # the grain is gone ...
        assert np.abs(coarse(b) - coarse(p)).max() < 12  # ... the same flip, turn, zoom and contrast kept


REAL_PHOTO_STEPS = {
    "blur": {"blur": 1.0},
    "jpeg": {"jpeg": 1.0, "jpeg_quality": (10, 20)},
    "gamma": {"gamma": 0.6},
    "brightness": {"brightness": 25.0},
    "side_light": {"side_light": 1.0},
    "noise": {"noise": 1.0},
}


def _checkered_faces(n: int = 16) -> np.ndarray:
    """Mid-grey faces with a fine checkerboard: blur, JPEG, light and noise each change them visibly."""
    board = (np.indices((48, 48)).sum(axis=0) % 2) * 60 + 98
    return np.stack([board] * n).astype(np.float32)


@pytest.mark.parametrize("name", REAL_PHOTO_STEPS)
def test_each_real_photo_step_changes_faces_as_it_says_and_keeps_their_shape_type_and_range(name):
    faces = _checkered_faces()
    step = getattr(augment, name)
    changed = step(faces.copy(), np.random.default_rng(0), Augmentation(**REAL_PHOTO_STEPS[name]))
    assert changed.shape == faces.shape and changed.dtype == np.float32
    assert changed.min() >= 0 and changed.max() <= 255
    detail = np.abs(np.diff(changed, axis=2)).mean(axis=(1, 2))  # the checkerboard's contrast, per face
    if name in ("blur", "jpeg"):
        assert (detail < 0.9 * 60).all()  # the fine detail fades
    if name in ("gamma", "brightness"):
        means = changed.mean(axis=(1, 2))
        assert np.ptp(means) > 5 and (detail > 0).all()  # each face lighter or darker by its own amount
    if name == "side_light":
        halves = changed[:, :, :24].mean(axis=(1, 2)) - changed[:, :, 24:].mean(axis=(1, 2))
        assert np.abs(halves).max() > 10  # one side lit more than the other
    if name == "noise":
        assert np.std(changed - faces) > 1 and abs(float(np.mean(changed - faces))) < 1


@pytest.mark.parametrize("name", REAL_PHOTO_STEPS)
def test_a_real_photo_step_switched_off_leaves_faces_and_every_later_draw_as_they_were(name):
    faces = _checkered_faces()
    rng = np.random.default_rng(5)
    assert np.array_equal(getattr(augment, name)(faces, rng, Augmentation()), faces)
    assert rng.random() == np.random.default_rng(5).random()


def test_default_batches_draw_as_the_first_five_steps_alone_did():
    faces = np.random.default_rng(1).integers(0, 256, (32, 48, 48), np.uint8)
    earlier = faces
    rng = np.random.default_rng(7)
    for step in augment.STEPS[:5]:
        earlier = step(earlier, rng, Augmentation())
    assert np.array_equal(augment_batch(faces, np.random.default_rng(7)), earlier)


def test_colour_faces_turn_grey_as_opencv_does_and_with_random_channel_weights_differently_each_time():
    import cv2

    colour = np.random.default_rng(2).integers(0, 256, (8, 48, 48, 3), np.uint8)
    opencv = np.stack([cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) for c in colour])
    assert np.abs(to_grey(colour, np.random.default_rng(0), Augmentation()) - opencv).max() < 0.51  # OpenCV rounds
    mixed = to_grey(np.stack([colour[0]] * 8), np.random.default_rng(0), Augmentation(grey_weights=0.35))
    assert mixed.shape == (8, 48, 48) and mixed.dtype == np.float32
    assert all(np.abs(mixed[i] - mixed[0]).mean() > 1 for i in range(1, 8))


def test_the_batched_warp_matrices_are_opencvs_turn_and_zoom_plus_the_shift():
    import cv2

    rng = np.random.default_rng(1)
    degrees, scale, shift = rng.uniform(-15, 15, 5), rng.uniform(0.85, 1.15, 5), rng.uniform(-6, 6, (5, 2))
    for matrix, d, s, (dx, dy) in zip(warp_matrices(degrees, scale, shift, 48), degrees, scale, shift, strict=True):
        expected = cv2.getRotationMatrix2D((24, 24), d, s) + [[0, 0, dx], [0, 0, dy]]
        np.testing.assert_allclose(matrix, expected, atol=1e-9)


def test_batches_cover_every_face_once_per_epoch_in_a_new_order_each_epoch():
    images, labels = _faces(50)
    faces = AugmentedFaces(images[..., None], np.eye(7, dtype=np.float32)[labels], 16, 1, Augmentation())
    orders = []
    for epoch in range(2):
        faces.start_epoch(epoch)
        orders.append(faces.order.copy())
        batches = [faces.batch(i) for i in range(len(faces))]
        assert [len(x) for x, _ in batches] == [16, 16, 16, 2]
        assert all(x.dtype == np.float32 and x.shape[1:] == (48, 48, 1) for x, _ in batches)
    assert sorted(orders[0]) == list(range(50)) and not np.array_equal(orders[0], orders[1])
    faces.start_epoch(1)
    assert np.array_equal(faces.batch(2)[0], batches[2][0])  # a batch is the same whenever it is drawn


# Data


def test_the_validation_split_holds_the_same_share_of_every_class_whatever_the_run():
    labels = np.array([0] * 100 + [1] * 10 + [3] * 40)
    train_rows, held = validation_split(labels, 0.1)
    assert np.bincount(labels[held], minlength=4).tolist() == [10, 1, 0, 4]
    assert sorted([*train_rows, *held]) == list(range(150))
    assert np.array_equal(validation_split(labels, 0.1)[1], held)  # a fixed seed: every run holds out the same
    assert len(validation_split(labels, 0.0)[1]) == 0


def test_pack_writes_both_splits_to_one_file_that_training_reads(tmp_path):
    import cv2

    from fer_core.labels import EMOTIONS

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


def test_distillation_loss_is_lowest_when_the_student_agrees_with_teacher_and_label():
    import keras

    loss = distillation_loss(hard_weight=0.3, temperature=3.0, label_smoothing=0.1)
    label = np.eye(7, dtype=np.float32)[[3]]
    teacher = np.array([[0.05, 0.0, 0.05, 0.8, 0.05, 0.05, 0.0]], np.float32)
    agreeing = np.concatenate([teacher, teacher], axis=1)
    disagreeing = np.concatenate([np.roll(teacher, 1, axis=1), teacher], axis=1)
    value = keras.ops.convert_to_numpy
    assert value(loss(label, agreeing)) < value(loss(label, disagreeing))


def test_a_long_epoch_logs_each_tenth_of_its_steps():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    lines = []
    model.fit(np.ones((40, 3)), np.ones(40), batch_size=2, epochs=2, verbose=0, callbacks=[step_progress(lines.append)])
    assert len(lines) == 18  # 20 steps an epoch: a line after steps 2, 4, ... 18 of each
    assert lines[0].startswith("epoch 1: 2 of 20 steps, ") and lines[0].endswith(" min left in the epoch")


# Training


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    """A two-epoch run, then the same run asked for a third epoch (it resumes)."""
    root = tmp_path_factory.mktemp("runs")
    run = _run(tiny_data, root, "base")
    first = train(run, **QUIET)
    history_after_two = json.loads((first / "history.json").read_text())
    messages = []
    train(replace(run, stages=[replace(run.stages[0], epochs=3)]), log=messages.append)
    return root, first, history_after_two, messages


def test_a_few_steps_write_the_model_its_curves_recipe_evaluation_and_card(trained):
    _, out, history, _ = trained
    assert sorted(p.name for p in out.iterdir()) == [
        "evaluation.json",
        "history.json",
        "model.keras",
        opencv_file(out / "model.keras").name,  # the network as the app runs it on a CPU
        "model_card.json",
        "recipe.json",
    ]
    assert [h["epoch"] for h in history] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"} <= set(history[0])
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["n"] == 28 and evaluation["data"] == "faces.npz (test split)"  # test/, never a path
    card = json.loads((out / "model_card.json").read_text())
    assert card["epochs_run"] == 3 and card["best_epoch"] in (1, 2, 3) and "validation split" in card["kept"]
    assert "cores" in card["hardware"] and card["data"]["path"] == "faces.npz"
    loaded = Classifier.load(out)
    if not gpu_present():
        assert loaded.engine == "opencv" and loaded._model is None  # from the copy, no Keras model read
    probs = loaded.predict_batch(np.zeros((2, 48, 48, 1), np.uint8))
    assert probs.shape == (2, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


def test_a_run_asked_for_more_epochs_resumes_and_replans_its_schedule(trained):
    _, out, _, messages = trained
    assert any("resuming from epoch 2" in m for m in messages)
    assert any("re-planned" in m for m in messages)
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    # The step count carried over: the new 3-epoch cosine ends at zero (started afresh, epoch 3 would be at its peak).
    assert history[-1]["learning_rate"] < 1e-6


def test_the_recipe_a_run_writes_trains_the_same_model_again(trained):
    _, out, _, _ = trained
    (stage,) = read_recipe(out / "recipe.json")
    assert stage == Stage(**{**SMALL, "epochs": 3})


def test_a_stage_started_from_a_model_averages_with_it_and_counts_both_on_its_card(tiny_data, trained):
    import keras

    root, base, _, _ = trained
    tuned = train(_run(tiny_data, root, "tuned", init_from=str(base), average_with_start=True, epochs=1), **QUIET)
    weights = [keras.models.load_model(p / "model.keras").get_weights() for p in (base, tuned)]
    assert not all(np.array_equal(a, b) for a, b in zip(*weights))
    card = json.loads((tuned / "model_card.json").read_text())
    assert [(s["name"], s["epochs"]) for s in card["stages"]] == [("base", 3), ("tuned", 1)]
    assert card["total_epochs"] == 4 and "averaged with the weights it started from" in card["kept"]
    # the recipe is the whole lineage: the base's stage, then this one from it (not from base's file)
    recipe = json.loads((tuned / "recipe.json").read_text())["stages"]
    assert recipe[0] == json.loads((base / "recipe.json").read_text())["stages"][0]
    assert "init_from" not in recipe[1] and recipe[1]["average_with_start"] and len(recipe) == 2
    assert json.loads((tuned / "model_card.json").read_text())["config"]["stages"] == recipe


def test_pruning_keeps_the_channels_that_weigh_most_and_a_student_learns_from_a_teacher(tiny_data, trained):
    import keras

    from fer_core.model.architecture import build_vgg
    from fer_core.training.weights import pruned_weights

    root, base, _, _ = trained
    model = keras.models.load_model(base / "model.keras")
    # Silence the odd channels (batch norm scale and shift 0: they read 0 after the ReLU) and make the
    # even ones weigh more: the cut network at half the width reads the faces as the whole one does.
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    for conv in convs:
        norm = model.layers[model.layers.index(conv) + 1]
        gamma, beta, mean, variance = norm.get_weights()
        gamma[1::2], beta[1::2] = 0, 0
        norm.set_weights([gamma + np.sign(gamma), beta, mean, variance])
    half = build_vgg((4, 4, 8, 8), 2)
    half.set_weights(pruned_weights(model, half))
    faces = np.random.default_rng(0).integers(0, 256, (16, 48, 48, 1), np.uint8)
    halved, whole = (Classifier.from_keras(m).predict_batch(faces) for m in (half, model))
    assert np.allclose(halved, whole, atol=1e-5)
    with pytest.raises(ValueError, match="fewer than"):
        pruned_weights(model, build_vgg((32, 32, 64, 64), 2))

    student = train(
        _run(tiny_data, root, "student", widths=(4, 4, 8, 8), init_from=str(base), prune=True, teacher=(str(base),)),
        **QUIET,
    )
    history = json.loads((student / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and "val_accuracy" in history[0]
    assert json.loads((student / "model_card.json").read_text())["architecture"] == "vgg 4-4-8-8 (distilled)"


# The command line


def test_every_shipped_model_holds_a_recipe_that_trains_it_and_names_no_path():
    for folder in sorted(p for p in MODELS_DIR.iterdir() if (p / "model.keras").is_file()):
        stages = read_recipe(folder / "recipe.json")
        assert stages and all(isinstance(s, Stage) for s in stages), folder
        text = (folder / "recipe.json").read_text()
        assert "/work" not in text and "/root" not in text and "/tmp" not in text, folder


def test_train_refuses_to_overwrite_a_model_without_force(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.keras").write_bytes(b"a trained model")
    (tmp_path / "data").mkdir()
    status = main(["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "model")])
    assert status == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "already holds a model" in error and "--force" in error
    assert (tmp_path / "model" / "model.keras").read_bytes() == b"a trained model"


def test_train_writes_outside_the_shipped_models_by_default():
    out = (ROOT / Run(data="").out).resolve()
    assert MODELS_DIR.resolve() not in (out, *out.parents)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(out / "model.keras")], cwd=ROOT)
    assert ignored.returncode == 0, f"{out} is not ignored by git"


def test_train_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    options = capsys.readouterr().out.split("options:")[1]
    entries = [" ".join(entry.split()) for entry in re.split(r"\n  (?=-)", options) if entry.strip()]
    assert len(entries) >= 20
    flags = ("-h", "--data ", "--force ", "--framed ", "--prune ", "--average-with-start ", "--pack ", "--config ")
    for entry in entries:
        if not entry.startswith(flags):  # required, a flag, or off unless given
            assert "default" in entry, entry
    assert "--epochs EPOCHS epochs to train (the cosine schedule's length) (default: 30)" in entries


def test_train_from_the_command_line_with_a_recipe_file_prints_no_tensorflow_noise(tiny_data, tmp_path):
    """A newcomer's first run on a machine without a GPU: a shipped recipe cut to one step, no CUDA or
    cuInit errors, just progress; and --force replaces a model that is there."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.keras").write_bytes(b"old")
    args = ["--data", tiny_data, "--out", str(tmp_path / "model"), "--work-dir", str(tmp_path / "work")]
    quick = ["--config", "models/fer_vgg_s21/recipe.json", "--epochs", "1", "--steps-per-epoch", "1", "--force"]
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL", "TF_CONFIG")}
    command = [sys.executable, "-m", "fer_core", "train", *args, *quick, "--widths", "8,8,16,16", "--batch-size", "16"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    noise = re.search(r"cuda|cuInit|oneDNN|cpu_feature_guard", result.stdout + result.stderr, re.IGNORECASE)
    assert not noise, result.stderr
    assert (tmp_path / "model" / "model.keras").read_bytes() != b"old"
    stages = json.loads((tmp_path / "model" / "recipe.json").read_text())["stages"]
    assert len(stages) == len(read_recipe(ROOT / "models/fer_vgg_s21/recipe.json"))
    shutil.rmtree(tmp_path / "work")


def test_a_recipe_whose_later_stage_reads_real_photos_says_at_once_where_they_are_missing(tiny_data, tmp_path, capsys):
    """The live model's recipe ends with a real-photo stage: without the photos it stops before training."""
    args = ["train", "--config", "models/fer_live/recipe.json", "--data", tiny_data, "--out", str(tmp_path / "m")]
    args += ["--work-dir", str(tmp_path / "work"), "--real-photos", str(tmp_path / "none")]
    assert main(args) == 1
    error = capsys.readouterr().err
    assert f"no real photos at {tmp_path / 'none'}" in error and "--real-photos" in error
    assert not (tmp_path / "work").exists()  # no stage started


# Real photos


@pytest.fixture(scope="module")
def real_photo_run(tiny_data, tmp_path_factory):
    """A stage with a tiny folder of real photos (copies of skimage's astronaut): trained two epochs of
    two steps, then asked for a third (it resumes)."""
    import cv2
    from skimage import data

    root = tmp_path_factory.mktemp("real")
    photo = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (160, 160), interpolation=cv2.INTER_AREA)
    names = [f"{label}/astronaut_{i}.jpg" for label in ("happy", "neutral") for i in range(3)]
    for i, name in enumerate(names):
        (root / "photos" / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "photos" / name), np.roll(photo, 4 * i, axis=1))
    (root / "train.txt").write_text("\n".join(names[:2] + names[3:5]) + "\n")
    (root / "heldout.txt").write_text(f"{names[2]}\n{names[5]}\n")
    real = {
        "real_photos": str(root / "photos"),
        "real_photos_list": str(root / "train.txt"),
        "real_photos_holdout": str(root / "heldout.txt"),
        "real_repeat": 3,
        "class_balance": 0.5,
        "grey_weights": 0.35,
        "precision": "mixed_bfloat16",
        **{k: v for settings in REAL_PHOTO_STEPS.values() for k, v in settings.items()},
    }
    run = replace(_run(tiny_data, root, "real", **real), steps_per_epoch=2)
    messages = []
    out = train(run, log=messages.append)
    train(replace(run, stages=[replace(run.stages[0], epochs=3)]), log=messages.append)
    return root, out, messages


def test_a_stage_with_real_photos_trains_on_the_apps_crops_and_picks_its_epoch_by_the_held_out_ones(real_photo_run):
    root, out, messages = real_photo_run
    assert any("faces found in 4 of 4 photos" in m for m in messages)
    assert any("(24 from real photos)" in m for m in messages)  # 4 crops and 4 whole photos, 3 times each
    assert any("class weights" in m for m in messages) and any("resuming from epoch 2" in m for m in messages)
    assert len(list((root / "work_real").glob("real_photos_*.npz"))) == 2  # cut once, kept
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for h in history:
        assert 0 <= h["real_accuracy"] <= 1 and 0 <= h["real_macro_f1"] <= 1
        assert h["score"] == pytest.approx((h["val_accuracy"] + h["real_accuracy"] + h["real_macro_f1"]) / 3)
    state = json.loads((root / "work_real" / "stage_1" / "state.json").read_text())
    assert state["best_score"] == pytest.approx(max(h["score"] for h in history))
    (stage,) = read_recipe(out / "recipe.json")
    assert stage.real_photos == "photos" and stage.real_photos_list == "train.txt" and stage.real_repeat == 3
    card = json.loads((out / "model_card.json").read_text())  # the card says what real photos it saw
    real = card["real_photos"]
    assert real["trained_on"] == {"list": "train.txt", "photos": 4} and real["held_out"]["photos"] == 2
    kept = next(h for h in history if h["epoch"] == state["best_epoch"])
    assert real["held_out_scores"]["accuracy"] == pytest.approx(kept["real_accuracy"], abs=1e-4)
    assert "held-out real photos" in card["kept"]
    probs = Classifier.load(out).predict_batch(np.zeros((2, 48, 48, 1), np.uint8))
    assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


def test_real_photos_a_held_out_list_shares_with_training_are_refused(tiny_data, tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "list.txt").write_text("happy/a.jpg\n")
    paths = {"real_photos_list": str(tmp_path / "list.txt"), "real_photos_holdout": str(tmp_path / "list.txt")}
    with pytest.raises(ValueError, match="trains on"):
        train(_run(tiny_data, tmp_path, "bad", real_photos=str(tmp_path / "photos"), **paths), **QUIET)
