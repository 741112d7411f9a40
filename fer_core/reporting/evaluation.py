"""Classification metrics and the evaluation file written beside each model."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fer_core.labels import EMOTIONS


@dataclass
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Evaluation:
    """What the `evaluate` command prints and the dashboard draws."""

    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_class: dict[str, ClassScores]
    confusion_matrix: list[list[int]]  # rows: true class, columns: predicted class
    labels: list[str]
    detection_rate: float | None = None
    data: str | None = None

    def to_dict(self) -> dict:
        result = asdict(self)
        if self.detection_rate is None:
            result.pop("detection_rate")
        return result

    @classmethod
    def from_dict(cls, data: dict) -> Evaluation:
        fields = dict(data)
        fields["per_class"] = {name: ClassScores(**scores) for name, scores in data["per_class"].items()}
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in fields.items() if key in known})


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(EMOTIONS)) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def evaluate_predictions(
    y_true: np.ndarray, y_pred: np.ndarray, detection_rate: float | None = None, data: str | None = None
) -> Evaluation:
    """Accuracy, macro/weighted F1 and per-class precision/recall/F1 from label indices.

    `y_pred` may hold -1 for "no prediction" (no face found): it counts as wrong.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    found = y_pred >= 0
    matrix = confusion_matrix(y_true[found], y_pred[found])
    support = np.bincount(y_true, minlength=len(EMOTIONS))
    return evaluation_from_matrix(matrix, support, list(EMOTIONS), detection_rate=detection_rate, data=data)


def evaluation_from_matrix(
    matrix: np.ndarray,
    support: np.ndarray,
    labels: list[str],
    detection_rate: float | None = None,
    data: str | None = None,
) -> Evaluation:
    """All scores from a confusion matrix (rows true, columns predicted) and the true counts per class.

    `support` may exceed the matrix's row sums: the difference are samples with no prediction.
    """
    matrix, support = np.asarray(matrix, np.int64), np.asarray(support, np.int64)
    n_classes = len(labels)
    true_positive = np.diag(matrix)
    predicted = matrix.sum(axis=0)
    precision = np.divide(true_positive, predicted, out=np.zeros(n_classes), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros(n_classes), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(n_classes), where=denominator > 0)
    present = support > 0
    n = int(support.sum())
    return Evaluation(
        n=n,
        accuracy=float(true_positive.sum() / max(n, 1)),
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        weighted_f1=float((f1 * support).sum() / max(n, 1)),
        per_class={
            name: ClassScores(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
            for i, name in enumerate(labels)
        },
        confusion_matrix=matrix.tolist(),
        labels=list(labels),
        detection_rate=detection_rate,
        data=data,
    )


def write_evaluation(evaluation: Evaluation, path: str | Path) -> None:
    Path(path).write_text(json.dumps(evaluation.to_dict(), indent=2) + "\n")


def read_evaluation(path: str | Path) -> Evaluation:
    return Evaluation.from_dict(json.loads(Path(path).read_text()))
