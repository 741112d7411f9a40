"""Reading a trained model's directory back, grouping results by valence, and finding mistakes."""

import json
from pathlib import Path

import numpy as np
import pytest

from fer_core.datasets import FaceDataset
from fer_core.labels import EMOTIONS, VALENCE
from fer_core.reporting.artifacts import (
    CARD_FILE,
    EVALUATION_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    History,
    average_scores,
    find_mistakes,
    list_runs,
    read_run,
)
from fer_core.reporting.evaluation import evaluate_predictions
from fer_core.reporting.valence import group_evaluation


def make_run(directory: Path, seed: int = 0, epochs: int = 6) -> Path:
    """Write a run directory the way `fer_core.training.trainer.write_artifacts` does (model.keras is a stand-in)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    history = [
        {
            "epoch": epoch,
            "accuracy": 0.30 + 0.05 * epoch,
            "loss": 1.9 - 0.1 * epoch,
            "val_accuracy": [0.31, 0.42, 0.48, 0.52, 0.51, 0.50, 0.49, 0.48][epoch - 1],
            "val_loss": 1.8 - 0.05 * epoch,
            "learning_rate": 0.002 * (1 - epoch / (epochs + 1)),
            "seconds": 60.0 + epoch,
        }
        for epoch in range(1, epochs + 1)
    ]
    y_true = rng.integers(0, len(EMOTIONS), 400)
    y_pred = np.where(rng.random(400) < 0.6, y_true, rng.integers(0, len(EMOTIONS), 400))
    evaluation = evaluate_predictions(y_true, y_pred, data="/data/fer2013 (test split)")
    card = {
        "name": directory.name,
        "architecture": "vgg",
        "parameters": 1242919,
        "file_size_bytes": 5108937,
        "input": "48x48 grayscale face crop, uint8",
        "labels": list(EMOTIONS),
        "epochs_run": epochs,
        "best_epoch": 4,
        "training_seconds": 381.0,
        "hardware": "Intel(R) Xeon(R) Processor, 2 cores, no GPU",
        "data": {
            "path": "/data/fer2013",
            "train_counts": {name: 1000 + 100 * i for i, name in enumerate(EMOTIONS)},
            "test_counts": {name: int(n) for name, n in zip(EMOTIONS, np.bincount(y_true, minlength=7), strict=True)},
        },
        "trained": "2026-11-21T20:00:00.000000+00:00",
        "finished": "2026-11-21T22:18:39.816741+00:00",
        "test_accuracy": evaluation.accuracy,
        "test_macro_f1": evaluation.macro_f1,
        "ms_per_face": 4.729,
        "config": {"data": "/data/fer2013", "epochs": epochs, "batch_size": 64},
        "summary": ['Model: "fer_vgg"\n┏━━━┓\n┃ Layer (type) ┃\n Total params: 1,242,919 (4.74 MB)\n'],
    }
    (directory / HISTORY_FILE).write_text(json.dumps(history, indent=1))
    (directory / EVALUATION_FILE).write_text(json.dumps(evaluation.to_dict(), indent=2))
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2))
    (directory / MODEL_FILE).write_bytes(b"stand-in")
    return directory


def rewrite(path: Path, change) -> None:
    """Apply `change` to the JSON in `path`, in place."""
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_reads_a_run_as_training_writes_it(tmp_path):
    run = read_run(make_run(tmp_path / "fer_vgg"))
    stored_history = json.loads((run.path / HISTORY_FILE).read_text())
    stored_evaluation = json.loads((run.path / EVALUATION_FILE).read_text())

    assert run.problems == []
    assert run.name == "fer_vgg"
    assert run.history.epochs == [1, 2, 3, 4, 5, 6]
    assert run.history.val_accuracy == [h["val_accuracy"] for h in stored_history]
    assert run.history.learning_rate_changed()
    assert run.evaluation.confusion_matrix == stored_evaluation["confusion_matrix"]
    assert run.evaluation.accuracy == stored_evaluation["accuracy"]
    assert run.card.parameters == 1242919
    assert run.card.data.train_counts["disgust"] == 1100
    assert run.card.summary.startswith('Model: "fer_vgg"') and "Total params" in run.card.summary
    assert run.best_epoch == 4


@pytest.mark.parametrize("missing", [HISTORY_FILE, EVALUATION_FILE, CARD_FILE, MODEL_FILE])
def test_a_missing_file_is_named_and_the_rest_still_loads(tmp_path, missing):
    path = make_run(tmp_path / "fer_vgg")
    (path / missing).unlink()
    run = read_run(path)

    assert [(p.file, p.damaged) for p in run.problems] == [(missing, False)]
    assert missing in run.problems[0].message and "python -m fer_core train" in run.problems[0].message
    assert (run.history is None) == (missing == HISTORY_FILE)
    assert (run.evaluation is None) == (missing == EVALUATION_FILE)
    assert (run.card is None) == (missing == CARD_FILE)


@pytest.mark.parametrize(
    ("file", "damage"),
    [
        (HISTORY_FILE, lambda path: path.write_text('[{"epoch": 1, "accuracy": 0.3')),  # cut off mid-write
        (HISTORY_FILE, lambda path: path.write_text('"not a history"')),
        (HISTORY_FILE, lambda path: path.write_bytes(b"\x89PNG\r\n\x1a\n\x00")),
        (HISTORY_FILE, lambda path: rewrite(path, lambda h: h[0].update(accuracy="high"))),
        (EVALUATION_FILE, lambda path: path.write_text("")),
        (EVALUATION_FILE, lambda path: rewrite(path, lambda e: e.pop("per_class"))),
        (EVALUATION_FILE, lambda path: rewrite(path, lambda e: e["confusion_matrix"].pop())),
        (EVALUATION_FILE, lambda path: rewrite(path, lambda e: e["labels"].__setitem__(0, "bored"))),
        (EVALUATION_FILE, lambda path: rewrite(path, lambda e: e["confusion_matrix"][0].__setitem__(0, -3))),
        (CARD_FILE, lambda path: path.write_text("[1, 2]")),
        (CARD_FILE, lambda path: rewrite(path, lambda c: c.update(parameters="about a million"))),
        (CARD_FILE, lambda path: rewrite(path, lambda c: c["data"].update(train_counts=[1, 2, 3]))),
    ],
)
def test_a_damaged_file_is_named_and_the_rest_still_loads(tmp_path, file, damage):
    path = make_run(tmp_path / "fer_vgg")
    damage(path / file)
    run = read_run(path)

    assert [(p.file, p.damaged) for p in run.problems] == [(file, True)]
    assert "damaged" in run.problems[0].message and file in run.problems[0].message
    assert [run.history is None, run.evaluation is None, run.card is None] == [
        file == HISTORY_FILE,
        file == EVALUATION_FILE,
        file == CARD_FILE,
    ]


def test_older_files_without_newer_keys_still_load(tmp_path):
    path = make_run(tmp_path / "old")
    newer_keys = ("val_loss", "val_accuracy", "learning_rate", "seconds")
    rewrite(path / HISTORY_FILE, lambda history: [h.pop(key) for h in history for key in newer_keys])
    rewrite(path / EVALUATION_FILE, lambda e: e.pop("data"))
    (path / CARD_FILE).write_text(json.dumps({"name": "old", "architecture": "vgg", "parameters": 1000}))
    run = read_run(path)

    assert run.problems == []
    assert run.history.has("accuracy") and not run.history.has("val_accuracy")
    assert run.history.learning_rate == [None] * 6 and not run.history.learning_rate_changed()
    assert run.card.hardware is None and run.card.data.train_counts == {} and run.card.summary == ""
    assert run.evaluation.data is None
    # without a best epoch in the card, the history decides (training accuracy, as there is no validation)
    assert run.best_epoch == 6


def test_a_keras_history_dict_of_lists_is_read_too():
    history = History.from_json({"loss": [2.0, 1.5, 1.4], "val_accuracy": [0.3, 0.5, 0.5]})

    assert history.epochs == [1, 2, 3]
    assert history.loss == [2.0, 1.5, 1.4]
    assert history.best_epoch() == 2  # the first of equal scores, as training keeps it


def test_an_evaluation_in_another_class_order_is_put_in_the_projects_order(tmp_path):
    path = make_run(tmp_path / "fer_vgg")
    stored = json.loads((path / EVALUATION_FILE).read_text())
    order = [6, 5, 4, 3, 2, 1, 0]
    shuffled = dict(stored)
    shuffled["labels"] = [EMOTIONS[i] for i in order]
    shuffled["confusion_matrix"] = [[stored["confusion_matrix"][i][j] for j in order] for i in order]
    (path / EVALUATION_FILE).write_text(json.dumps(shuffled))

    evaluation = read_run(path).evaluation
    assert evaluation.labels == list(EMOTIONS)
    assert evaluation.confusion_matrix == stored["confusion_matrix"]


def test_list_runs_finds_directories_with_run_files_only(tmp_path):
    make_run(tmp_path / "fer_vgg")
    make_run(tmp_path / "an_older_run")
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a run")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / HISTORY_FILE).write_text("[]")

    assert [p.name for p in list_runs(tmp_path)] == ["an_older_run", "fer_vgg", "half"]
    assert list_runs(tmp_path / "no such folder") == []


def test_valence_groups_sum_the_stored_confusion_matrix():
    # rows true, columns predicted, in EMOTIONS order: angry disgust fear happy neutral sad surprise
    y_true = [0, 0, 2, 2, 3, 3, 3, 4, 4, 5, 6, 6]
    y_pred = [0, 5, 5, 3, 3, 6, 4, 4, 0, 1, 3, 6]
    grouped = group_evaluation(evaluate_predictions(np.array(y_true), np.array(y_pred)))

    assert grouped.labels == ["positive", "neutral", "negative"]
    # positive: happy x3 (happy, surprise, neutral), surprise x2 (happy, surprise) -> 4 right, 1 neutral
    # neutral: (neutral, angry) -> 1 right, 1 negative; negative: angry x2, fear x2, sad x1 -> 4 right, 1 positive
    assert grouped.confusion_matrix == [[4, 1, 0], [0, 1, 1], [1, 0, 4]]
    assert grouped.accuracy == pytest.approx(9 / 12)
    positive = grouped.per_class["positive"]
    assert (positive.precision, positive.recall, positive.support) == (pytest.approx(4 / 5), pytest.approx(4 / 5), 5)
    negative = grouped.per_class["negative"]
    assert negative.f1 == pytest.approx(2 * (4 / 5) * (4 / 5) / (8 / 5))
    assert grouped.macro_f1 == pytest.approx(np.mean([s.f1 for s in grouped.per_class.values()]))


def test_valence_grouping_matches_classifying_into_groups_directly():
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    y_pred[rng.random(500) < 0.1] = -1  # no face found: counts as wrong, as in evaluate_predictions
    grouped = group_evaluation(evaluate_predictions(y_true, y_pred))

    group_of = np.array([[EMOTIONS[i] in members for members in VALENCE.values()].index(True) for i in range(7)])
    true_group = group_of[y_true]
    pred_group = np.where(y_pred >= 0, group_of[y_pred], -1)
    for g, name in enumerate(VALENCE):
        right = np.sum((true_group == g) & (pred_group == g))
        assert grouped.per_class[name].precision == pytest.approx(right / np.sum(pred_group == g))
        assert grouped.per_class[name].recall == pytest.approx(right / np.sum(true_group == g))
        assert grouped.per_class[name].support == np.sum(true_group == g)
    assert grouped.accuracy == pytest.approx(np.mean(true_group == pred_group))
    assert grouped.n == 500


def test_valence_groups_must_cover_every_class():
    evaluation = evaluate_predictions(np.arange(7), np.arange(7))
    with pytest.raises(ValueError, match="groups cover"):
        group_evaluation(evaluation, {"positive": ("happy",), "negative": ("sad",)})


def test_average_scores_weigh_classes_equally_or_by_support():
    evaluation = evaluate_predictions(np.array([0, 0, 0, 3]), np.array([0, 0, 3, 3]))
    averages = average_scores(evaluation)

    # angry: precision 1, recall 2/3 (support 3); happy: precision 1/2, recall 1 (support 1); others absent
    assert averages["macro avg"].precision == pytest.approx((1 + 0.5) / 2)
    assert averages["weighted avg"].recall == pytest.approx((2 / 3 * 3 + 1 * 1) / 4)
    assert averages["macro avg"].f1 == evaluation.macro_f1
    assert averages["weighted avg"].support == 4


class FixedClassifier:
    """Answers with the probabilities it was given, one row per face."""

    def __init__(self, probs):
        self.probs = np.array(probs, np.float32)

    def predict_batch(self, faces):
        assert faces.shape == (len(self.probs), 48, 48, 1)
        return self.probs


def test_find_mistakes_returns_the_wrong_answers_most_confident_first():
    images = np.arange(4, dtype=np.uint8)[:, None, None] * np.ones((4, 48, 48), np.uint8)
    dataset = FaceDataset(images, np.array([3, 0, 5, 6]), ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    probs = np.full((4, 7), 0.01)
    probs[0, 3] = 0.9  # happy, right
    probs[1, 5], probs[1, 0] = 0.6, 0.3  # angry taken for sad
    probs[2, 4] = 0.9  # sad taken for neutral, confidently
    probs[3, 6] = 0.8  # surprise, right

    mistakes = find_mistakes(FixedClassifier(probs), dataset)

    assert [m.path for m in mistakes] == ["c.jpg", "b.jpg"]
    assert (mistakes[0].true_label, mistakes[0].predicted_label) == ("sad", "neutral")
    assert mistakes[0].confidence == pytest.approx(0.9)
    assert mistakes[1].true_probability == pytest.approx(0.3)
    assert (mistakes[1].image == 1).all()
