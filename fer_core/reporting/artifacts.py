"""A trained model's directory read back: history, evaluation, model card, and what is wrong with them.

Training writes `models/<name>/` with `model.keras`, `history.json`, `recipe.json`,
`evaluation.json` and `model_card.json`; an ensemble's folder holds `ensemble.json` in place of the
network and history. The dashboard draws these files as they are; a
missing or damaged file becomes a `Problem` naming it, never an exception, and files from
older runs that lack some keys still load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from fer_core.datasets import FaceDataset
from fer_core.labels import EMOTIONS
from fer_core.model.classifier import CARD_FILE, Classifier
from fer_core.model.ensemble import MANIFEST_FILE
from fer_core.paths import shown_path
from fer_core.reporting.evaluation import ClassScores, Evaluation

MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
EVALUATION_FILE = "evaluation.json"
RUN_FILES = (MODEL_FILE, MANIFEST_FILE, HISTORY_FILE, EVALUATION_FILE, CARD_FILE)

RETRAIN = "restore it from git, or train the model again with `python -m fer_core train --data <FER2013> --out {path}`"


@dataclass
class History:
    """Per-epoch figures, one list per metric; None where an epoch did not record it."""

    epochs: list[int]
    loss: list[float | None]
    accuracy: list[float | None]
    val_loss: list[float | None]
    val_accuracy: list[float | None]
    learning_rate: list[float | None]
    seconds: list[float | None]

    @classmethod
    def from_json(cls, data: list[dict] | dict[str, list]) -> History:
        """Read the list of per-epoch records training writes, or Keras' `History.history` dict of lists."""
        if isinstance(data, dict):
            length = max((len(values) for values in data.values()), default=0)
            data = [{key: values[i] for key, values in data.items() if i < len(values)} for i in range(length)]
        if not isinstance(data, list) or not all(isinstance(record, dict) for record in data):
            raise TypeError("expected a list of per-epoch records")
        records = sorted(data, key=lambda record: record.get("epoch", 0))
        epochs = [int(record.get("epoch", i + 1)) for i, record in enumerate(records)]
        metrics = {
            f.name: [_number(record.get(f.name), f.name) for record in records]
            for f in fields(cls)
            if f.name != "epochs"
        }
        return cls(epochs=epochs, **metrics)

    def has(self, metric: str) -> bool:
        return any(value is not None for value in getattr(self, metric))

    def best_epoch(self) -> int | None:
        """The epoch with the highest validation accuracy (training's rule for the weights it keeps)."""
        scores = self.val_accuracy if self.has("val_accuracy") else self.accuracy
        recorded = [(epoch, score) for epoch, score in zip(self.epochs, scores, strict=True) if score is not None]
        # max() returns the first of equal scores, as training keeps the first
        return max(recorded, key=lambda pair: pair[1])[0] if recorded else None

    def learning_rate_changed(self) -> bool:
        return len({rate for rate in self.learning_rate if rate is not None}) > 1


@dataclass
class DataUsed:
    """The data set a model was trained and tested on, as class -> number of images."""

    path: str | None = None
    train_counts: dict[str, int] = field(default_factory=dict)
    test_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class ModelCard:
    """What `model_card.json` records; keys an older card lacks are None."""

    name: str | None = None
    architecture: str | None = None
    parameters: int | None = None
    file_size_bytes: int | None = None
    input: str | None = None
    labels: list[str] | None = None
    epochs_run: int | None = None
    best_epoch: int | None = None
    kept: str | None = None  # what a run kept instead of a best epoch (e.g. its last weight average)
    training_seconds: float | None = None
    # Every training run behind the model, oldest first (fine-tuning stages, an ensemble's members'
    # stages), as {"name", "epochs", "seconds"}, and their sums (None when a run did not record its own).
    stages: list[dict] = field(default_factory=list)
    total_epochs: int | None = None
    total_training_seconds: float | None = None
    hardware: str | None = None
    data: DataUsed = field(default_factory=DataUsed)
    trained: str | None = None
    finished: str | None = None
    test_accuracy: float | None = None
    test_macro_f1: float | None = None
    ms_per_face: float | None = None
    engine: str | None = None  # what scored and timed it (`Classifier.engine`), where the card records it
    config: dict = field(default_factory=dict)
    summary: str = ""
    members: list[str] = field(default_factory=list)  # an ensemble's member runs, by directory name
    # The real photos it trained on besides FER2013 (an ensemble's: per member), or None.
    real_photos: dict | None = None
    unsure_below: float | None = None  # the top probability under which a face is shown as unsure

    @classmethod
    def from_json(cls, data: dict) -> ModelCard:
        if not isinstance(data, dict):
            raise TypeError("expected a JSON object")
        known = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        for name in ("parameters", "file_size_bytes", "epochs_run", "best_epoch", "total_epochs"):
            known[name] = _integer(data.get(name), name)
        numbers = ("training_seconds", "total_training_seconds", "test_accuracy", "test_macro_f1", "ms_per_face")
        for name in (*numbers, "unsure_below"):
            known[name] = _number(data.get(name), name)
        known["engine"] = data.get("engine") if isinstance(data.get("engine"), str) else None
        known["data"] = _data_used(data.get("data") or {})
        known["config"] = data.get("config") if isinstance(data.get("config"), dict) else {}
        known["real_photos"] = data.get("real_photos") if isinstance(data.get("real_photos"), dict) else None
        stages = data.get("stages") or []
        known["stages"] = [stage for stage in stages if isinstance(stage, dict)] if isinstance(stages, list) else []
        members = data.get("members") or []
        known["members"] = [str(m) for m in members] if isinstance(members, list) else []
        # training stores model.summary() as a list of printed chunks, each of which may hold several lines
        summary = data.get("summary") or []
        known["summary"] = "\n".join(map(str, summary)).rstrip() if isinstance(summary, list) else str(summary)
        return cls(**known)


@dataclass
class Problem:
    """A run file that is missing or cannot be read, with what to do about it."""

    file: str
    message: str
    damaged: bool  # False: the file is missing


@dataclass
class ModelRun:
    """One trained model's directory; a part whose file is missing or damaged is None."""

    name: str
    path: Path
    history: History | None
    evaluation: Evaluation | None
    card: ModelCard | None
    problems: list[Problem]

    @property
    def has_model(self) -> bool:
        """Whether the folder holds a model to load: a network's file or an ensemble's manifest."""
        return (self.path / MODEL_FILE).is_file() or (self.path / MANIFEST_FILE).is_file()

    @property
    def best_epoch(self) -> int | None:
        if self.card and self.card.best_epoch is not None:
            return self.card.best_epoch
        if self.card and self.card.kept:
            return None  # no epoch was picked: the card says what was kept
        return self.history.best_epoch() if self.history else None


def list_runs(models_dir: str | Path) -> list[Path]:
    """Subdirectories of `models_dir` that hold at least one of a run's files, by name."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    return sorted(p for p in models_dir.iterdir() if p.is_dir() and any((p / name).is_file() for name in RUN_FILES))


def read_run(path: str | Path) -> ModelRun:
    """Read a run's files; each one missing or damaged becomes a Problem and leaves its part None."""
    path = Path(path)
    problems: list[Problem] = []
    shown = shown_path(path)
    what_to_do = RETRAIN.format(path=shown)

    def missing(name: str, needed_for: str) -> Problem:
        message = f"{name} is missing from {shown}, so {needed_for} cannot be shown: {what_to_do}."
        return Problem(name, message, damaged=False)

    def read(name: str, parse, needed_for: str):
        file = path / name
        if not file.is_file():
            problems.append(missing(name, needed_for))
            return None
        try:
            return parse(json.loads(file.read_text()))
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            # an OSError's text names the file by its absolute path: its strerror does not
            reason = f"{type(error).__name__}: {error.strerror if isinstance(error, OSError) else error}"
            message = f"{name} in {shown} is damaged ({reason}), so {needed_for} cannot be shown: {what_to_do}."
            problems.append(Problem(name, message, damaged=True))
            return None

    evaluation = read(EVALUATION_FILE, _evaluation, "the test results")
    card = read(CARD_FILE, ModelCard.from_json, "the model card")
    # An ensemble was not trained itself: its curves are its members'.
    history = None if card and card.members else read(HISTORY_FILE, History.from_json, "the training curves")
    if not ((path / MODEL_FILE).is_file() or (path / MANIFEST_FILE).is_file()):
        problems.append(missing(MODEL_FILE, "its mistakes on the test set"))
    return ModelRun(path.name, path, history, evaluation, card, problems)


def average_scores(evaluation: Evaluation) -> dict[str, ClassScores]:
    """Macro (classes equally) and weighted (by support) averages of the per-class scores.

    The F1 averages are the stored ones; precision and recall are averaged the same way,
    over the classes present in the test set.
    """
    scores = [evaluation.per_class[label] for label in evaluation.labels]
    present = [s for s in scores if s.support > 0] or scores
    total = sum(s.support for s in scores)
    weight = max(total, 1)
    return {
        "macro avg": ClassScores(
            float(np.mean([s.precision for s in present])),
            float(np.mean([s.recall for s in present])),
            evaluation.macro_f1,
            total,
        ),
        "weighted avg": ClassScores(
            sum(s.precision * s.support for s in scores) / weight,
            sum(s.recall * s.support for s in scores) / weight,
            evaluation.weighted_f1,
            total,
        ),
    }


@dataclass
class Mistake:
    """A test face the model got wrong."""

    image: np.ndarray  # (48, 48) uint8
    path: str
    true_label: str
    predicted_label: str
    confidence: float  # probability the model gave its (wrong) answer
    true_probability: float  # probability it gave the right one


def find_mistakes(classifier: Classifier, dataset: FaceDataset) -> list[Mistake]:
    """Every face in `dataset` the classifier gets wrong, the most confident mistakes first."""
    probs = classifier.predict_batch(dataset.images[..., None])
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != dataset.labels)
    wrong = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")]
    return [
        Mistake(
            image=dataset.images[i],
            path=dataset.paths[i],
            true_label=EMOTIONS[dataset.labels[i]],
            predicted_label=EMOTIONS[predicted[i]],
            confidence=float(probs[i, predicted[i]]),
            true_probability=float(probs[i, dataset.labels[i]]),
        )
        for i in wrong
    ]


def _number(value, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} is {value!r}, not a number")
    return float(value)


def _integer(value, name: str) -> int | None:
    number = _number(value, name)
    return None if number is None else int(number)


def _data_used(data: dict) -> DataUsed:
    if not isinstance(data, dict):
        raise TypeError("data is not a JSON object")

    def counts(key: str) -> dict[str, int]:
        values = data.get(key) or {}
        if not isinstance(values, dict):
            raise TypeError(f"data.{key} is not a class -> count object")
        return {label: _integer(values[label], f"data.{key}.{label}") or 0 for label in EMOTIONS if label in values}

    return DataUsed(data.get("path"), counts("train_counts"), counts("test_counts"))


def _evaluation(data: dict) -> Evaluation:
    """Evaluation.from_dict, checked, with the classes put in the project's order."""
    evaluation = Evaluation.from_dict(data)
    labels = list(evaluation.labels)
    matrix = np.array(evaluation.confusion_matrix)
    if sorted(labels) != sorted(EMOTIONS):
        raise ValueError(f"labels are {labels}, expected {list(EMOTIONS)}")
    if matrix.shape != (len(labels), len(labels)) or matrix.dtype.kind not in "iu" or (matrix < 0).any():
        raise ValueError(f"confusion_matrix is not a {len(labels)}x{len(labels)} table of counts")
    missing = [label for label in labels if label not in evaluation.per_class]
    if missing:
        raise ValueError(f"per_class lacks {', '.join(missing)}")
    for name in ("accuracy", "macro_f1", "weighted_f1"):
        _number(getattr(evaluation, name), name)
    for label, scores in evaluation.per_class.items():
        for name in ("precision", "recall", "f1", "support"):
            _number(getattr(scores, name), f"per_class.{label}.{name}")
    order = [labels.index(label) for label in EMOTIONS]
    evaluation.confusion_matrix = matrix[np.ix_(order, order)].tolist()
    evaluation.labels = list(EMOTIONS)
    evaluation.per_class = {label: evaluation.per_class[label] for label in EMOTIONS}
    return evaluation
