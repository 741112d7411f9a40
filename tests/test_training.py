import json

import numpy as np
import pytest

from fer_core.training import TrainConfig, class_weights, train


def test_class_weights_favour_rare_classes_and_average_one():
    labels = np.array([0] * 90 + [1] * 10 + [3] * 100)
    weights = class_weights(labels, power=0.5)
    assert weights[1] > weights[0] > weights[3]
    assert weights[labels].mean() == pytest.approx(1.0)
    assert np.allclose(class_weights(labels, power=0.0)[[0, 1, 3]], 1.0)


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
