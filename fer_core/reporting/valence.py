"""Test results grouped by valence: positive, neutral and negative expressions."""

from __future__ import annotations

import numpy as np

from fer_core.labels import VALENCE
from fer_core.reporting.evaluation import Evaluation, evaluation_from_matrix


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

    return evaluation_from_matrix(
        matrix, support, list(groups), detection_rate=evaluation.detection_rate, data=evaluation.data
    )
