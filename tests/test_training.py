import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from fer_core.cli import main
from fer_core.model.classifier import MODELS_DIR
from fer_core.training.trainer import TrainConfig, class_weights, earlier_stages, stage_totals, step_progress, train
from tests.conftest import ROOT


def test_class_weights_favour_rare_classes_and_average_one():
    labels = np.array([0] * 90 + [1] * 10 + [3] * 100)
    weights = class_weights(labels, power=0.5)
    assert weights[1] > weights[0] > weights[3]
    assert weights[labels].mean() == pytest.approx(1.0)
    assert np.allclose(class_weights(labels, power=0.0)[[0, 1, 3]], 1.0)


def test_a_long_epoch_logs_each_tenth_of_its_steps():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    lines = []
    model.fit(np.ones((40, 3)), np.ones(40), batch_size=2, epochs=2, verbose=0, callbacks=[step_progress(lines.append)])
    # 20 steps an epoch: a line after steps 2, 4, ... 18 of each (the epoch's own line follows step 20)
    assert len(lines) == 18
    assert lines[0].startswith("epoch 1: 2 of 20 steps, ")
    assert ", loss " in lines[0] and lines[0].endswith(" min left in the epoch")
    assert lines[-1].startswith("epoch 2: 18 of 20 steps, ")


def test_few_step_training_writes_artifacts_and_resumes(tiny_fer, tmp_path):
    config = TrainConfig(
        data=str(tiny_fer),
        out=str(tmp_path / "model"),
        work_dir=str(tmp_path / "work"),
        epochs=2,
        batch_size=8,
        steps_per_epoch=2,
        patience=5,
    )
    out = train(config, log=lambda *_: None)
    for name in ("model.keras", "history.json", "evaluation.json", "model_card.json"):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"} <= set(history[0])
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["n"] == 14 and len(evaluation["confusion_matrix"]) == 7
    card = json.loads((out / "model_card.json").read_text())
    assert card["parameters"] > 100_000 and card["epochs_run"] == 2

    # Asked for more epochs, the same work dir resumes at epoch 3 instead of starting over.
    messages = []
    train(TrainConfig(**{**config.__dict__, "epochs": 3}), log=messages.append)
    assert any("resuming from epoch 2" in m for m in messages)
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_resume_with_a_new_epoch_budget_keeps_optimizer_state(tiny_fer, tmp_path):
    config = TrainConfig(
        data=str(tiny_fer),
        out=str(tmp_path / "model"),
        work_dir=str(tmp_path / "work"),
        epochs=4,
        batch_size=8,
        steps_per_epoch=2,
    )
    train(TrainConfig(**{**config.__dict__, "epochs": 1}), log=lambda *_: None)  # planned as a 1-epoch run
    messages = []
    train(config, log=messages.append)
    assert any("re-planned" in m for m in messages)
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    # The step count carried over, so the new cosine schedule decays to (near) zero by epoch 4.
    assert history[-1]["learning_rate"] < history[1]["learning_rate"]


def test_a_run_can_start_from_a_trained_models_weights(tiny_fer, tmp_path):
    import keras

    config = TrainConfig(
        data=str(tiny_fer), out=str(tmp_path / "a"), work_dir=str(tmp_path / "work_a"), epochs=1, steps_per_epoch=2
    )
    first = train(config, log=lambda *_: None) / "model.keras"
    # With a zero learning rate, the second run's weights can only be the first run's.
    messages = []
    second = TrainConfig(
        **{**config.__dict__, "out": str(tmp_path / "b"), "work_dir": str(tmp_path / "work_b")},
    )
    second.init_from, second.learning_rate, second.weight_decay = str(first), 0.0, 0.0
    out = train(second, log=messages.append) / "model.keras"
    assert any("starting from the weights of" in m for m in messages)
    before = keras.models.load_model(first).trainable_weights
    after = keras.models.load_model(out).trainable_weights
    assert all(np.array_equal(np.asarray(b), np.asarray(a)) for b, a in zip(before, after, strict=True))

    # The second card counts both runs: its own epoch and time, and the first run's read from its card.
    cards = [json.loads((tmp_path / name / "model_card.json").read_text()) for name in ("a", "b")]
    assert [stage["name"] for stage in cards[1]["stages"]] == ["a", "b"]
    assert cards[1]["epochs_run"] == 1 and cards[1]["total_epochs"] == 2
    seconds = cards[0]["training_seconds"] + cards[1]["training_seconds"]
    assert cards[1]["total_training_seconds"] == pytest.approx(seconds, abs=0.1)


def test_the_lineage_of_a_model_without_a_card_is_unknown(tmp_path):
    (tmp_path / "old").mkdir()
    assert earlier_stages(str(tmp_path / "old" / "model.keras")) == [{"name": "old", "epochs": None, "seconds": None}]
    totals = stage_totals(
        [*earlier_stages(str(tmp_path / "old" / "model.keras")), {"name": "new", "epochs": 3, "seconds": 9.0}]
    )
    assert totals["total_epochs"] is None and totals["total_training_seconds"] is None
    assert earlier_stages(None) == []


def test_train_refuses_to_overwrite_a_model_without_force(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.keras").write_bytes(b"a trained model")
    status = main(["train", "--data", str(tmp_path / "no-such-data"), "--out", str(tmp_path / "model")])
    assert status == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "already holds a model" in error and "--force" in error
    assert (tmp_path / "model" / "model.keras").read_bytes() == b"a trained model"


def test_train_writes_outside_the_shipped_models_by_default():
    out = (ROOT / TrainConfig(data="").out).resolve()
    assert MODELS_DIR.resolve() not in (out, *out.parents)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(out / "model.keras")], cwd=ROOT)
    assert ignored.returncode == 0, f"{out} is not ignored by git"


def test_train_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    options = capsys.readouterr().out.split("options:")[1]
    entries = [" ".join(entry.split()) for entry in re.split(r"\n  (?=-)", options) if entry.strip()]
    assert len(entries) >= 15
    for entry in entries:
        if not entry.startswith(("-h", "--data ", "--force ")):  # required, or a flag
            assert "default" in entry, entry
    assert "--out OUT where the model and its files are written (default: runs/fer_vgg)" in entries


def test_train_from_the_command_line_prints_no_tensorflow_noise(tiny_fer, tmp_path):
    """A newcomer's first run on a machine without a GPU: no CUDA or cuInit errors, just progress; and
    --force replaces a model that is there."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.keras").write_bytes(b"old")
    args = ["--data", str(tiny_fer), "--out", str(tmp_path / "model"), "--work-dir", str(tmp_path / "work")]
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL", "TF_CONFIG")}
    result = subprocess.run(
        [sys.executable, "-m", "fer_core", "train", *args, "--epochs", "1", "--steps-per-epoch", "1", "--force"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert not re.search(r"cuda|cuInit|oneDNN|cpu_feature_guard", result.stdout + result.stderr, re.IGNORECASE), (
        result.stderr
    )
    assert (tmp_path / "model" / "model.keras").read_bytes() != b"old"
