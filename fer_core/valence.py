"""Test results grouped by valence: positive, neutral and negative expressions."""

from __future__ import annotations

import numpy as np

from fer_core.evaluation import ClassScores, Evaluation
from fer_core.labels import VALENCE


def group_evaluation(evaluation: Evaluation, groups: dict[str, tuple[str, ...]] = VALENCE) -> Evaluation:
    """The same test results with the classes of each group merged into one.

    Nothing is predicted again: the stored confusion matrix is summed over the classes of
    each group, so a fearful face taken for sad counts as right (both are negative), and
    precision, recall and F1 follow from the summed matrix.
    """
    members = [name for names in groups.values() for name in names]
    if sorted(members) != sorted(evaluation.labels):
        raise ValueError(f"groups cover {sorted(members)}, the evaluation has {sorted(evaluation.labels)}")
    # membership[i, g] = 1 when class i belongs to group g
    membership = np.array([[label in names for names in groups.values()] for label in evaluation.labels], np.int64)
    matrix = membership.T @ np.array(evaluation.confusion_matrix, np.int64) @ membership
    class_support = np.array([evaluation.per_class[label].support for label in evaluation.labels], np.int64)
    support = class_support @ membership

    true_positive = np.diag(matrix)
    predicted = matrix.sum(axis=0)
    precision = np.divide(true_positive, predicted, out=np.zeros(len(groups)), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros(len(groups)), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(len(groups)), where=denominator > 0)
    present = support > 0
    return Evaluation(
        n=evaluation.n,
        accuracy=float(true_positive.sum() / max(evaluation.n, 1)),
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        weighted_f1=float((f1 * support).sum() / max(support.sum(), 1)),
        per_class={
            name: ClassScores(float(precision[g]), float(recall[g]), float(f1[g]), int(support[g]))
            for g, name in enumerate(groups)
        },
        confusion_matrix=matrix.tolist(),
        labels=list(groups),
        detection_rate=evaluation.detection_rate,
        data=evaluation.data,
    )
