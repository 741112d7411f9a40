"""When a model should say it is unsure: the threshold on its top probability, chosen on real photos.

A face whose top probability is under the model's `unsure_below` is shown with its top two labels
("sad or neutral?") instead of one confident word (`fer_core.labels.Reading`). The threshold is chosen
where a word would start to mislead: the top probability under which a face's label is more likely
wrong than right. `bench/unsure_threshold.py` measures a model on real photos and writes the
choice into its card, where `Classifier.load` reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fer_core.model.classifier import CARD_FILE

MIN_THRESHOLD, MAX_THRESHOLD = 0.2, 0.8  # a crossing outside says the fit is not to be trusted


@dataclass(frozen=True)
class UnsureChoice:
    unsure_below: float  # 0: the label is more likely right than wrong at every top probability
    faces: int  # faces measured
    unsure_share: float  # of them, shown as unsure
    unsure_top_accuracy: float  # how often the top label of an unsure face is right
    unsure_top_two_accuracy: float  # how often one of its top two is
    sure_accuracy: float  # how often the label of a face shown as sure is right


def choose_unsure_below(top_probability, correct, top_two_correct) -> UnsureChoice:
    """The top probability at which a face's label turns more likely right than wrong: where a logistic
    curve of "the label is right" over the top probability, fitted to these faces, crosses one half
    (rounded to 0.01; 0 where it never does above 0.2); and the figures at that threshold."""
    top, right, right2 = (np.asarray(a, np.float64) for a in (top_probability, correct, top_two_correct))
    intercept, slope = _logistic_fit(top, right)
    crossing = -intercept / slope if slope > 0 else 0.0
    chosen = round(float(crossing), 2) if MIN_THRESHOLD <= crossing <= MAX_THRESHOLD else 0.0
    return figures_at(chosen, top, right, right2)


def _logistic_fit(x: np.ndarray, y: np.ndarray, steps: int = 50) -> tuple[float, float]:
    """(a, b) of P(y) = 1 / (1 + exp(-(a + b x))), by Newton's method on the log-likelihood."""
    design = np.stack([np.ones_like(x), x], axis=1)
    weights = np.zeros(2)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ weights))
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, design.T @ (y - p))
        weights += step
        if np.abs(step).max() < 1e-8:
            break
    return float(weights[0]), float(weights[1])


def figures_at(threshold: float, top, right, right2) -> UnsureChoice:
    """The figures of `threshold` on faces with these top probabilities and right answers."""
    under = top < threshold

    def mean(values) -> float:
        return round(float(values.mean()), 4) if len(values) else 0.0

    return UnsureChoice(
        threshold,
        len(top),
        mean(under.astype(float)),
        mean(right[under]),
        mean(right2[under]),
        mean(right[~under]),
    )


def write_unsure_below(model_dir: str | Path, choice: UnsureChoice, chosen_on: str) -> Path:
    """Record the choice in `model_dir`'s card (`unsure_below`, and how it was chosen)."""
    card_path = Path(model_dir) / CARD_FILE
    card = json.loads(card_path.read_text())
    card["unsure_below"] = choice.unsure_below
    card["unsure_below_chosen"] = {"on": chosen_on, **asdict(choice)}
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return card_path
