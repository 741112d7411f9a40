"""The face tracker on its own: box overlap, stable ids through jumps and misses, the main face."""

import numpy as np
import pytest

from fer_core.labels import EMOTIONS
from fer_core.media.tracking import FaceTracker, iou
from fer_core.pipeline import Face


def probs_of(label: str, p: float = 0.8) -> np.ndarray:
    probs = np.full(len(EMOTIONS), (1 - p) / (len(EMOTIONS) - 1))
    probs[EMOTIONS.index(label)] = p
    return probs


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert iou((0, 0, 10, 10), (20, 20, 10, 10)) == 0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_a_face_that_jumps_between_slow_analyses_keeps_its_id():
    tracker = FaceTracker()
    tracker.update([Face((100, 100, 100, 100), probs_of("happy")), Face((450, 100, 100, 100), probs_of("sad"))], 0.0)
    # both moved 120 px (no overlap left) towards each other: each is still the nearest to its own track
    moved = tracker.update(
        [Face((220, 110, 100, 100), probs_of("happy")), Face((330, 90, 100, 100), probs_of("sad"))], 1.0
    )
    assert {t.id: t.box[0] for t in moved} == {1: 220, 2: 330}
    # a face three widths away is someone else
    far = tracker.update(
        [Face((220, 110, 100, 100), probs_of("happy")), Face((0, 350, 100, 100), probs_of("sad"))], 2.0
    )
    assert sorted(t.id for t in far) == [1, 2, 3]


def test_at_a_slow_analysis_rate_one_miss_does_not_drop_the_face():
    tracker = FaceTracker(grace_seconds=0.5)
    face = Face((200, 150, 120, 120), probs_of("happy"))
    for t in (0.0, 0.6):
        tracker.update([face], t)
    assert [track.id for track in tracker.update([], 1.2)] == [1], "missed once, 0.6 s ago: kept"
    assert [track.id for track in tracker.update([face], 1.8)] == [1]
    tracker.update([], 2.4)
    assert tracker.update([], 3.0) == [], "missed twice and longer than the grace period: dropped"


def test_tracker_main_face_is_the_oldest_large_one():
    tracker = FaceTracker(smoothing=0.5)
    tracker.update([Face((0, 0, 100, 100), probs_of("happy"))], 0.0)
    tracker.update([Face((0, 0, 100, 100), probs_of("happy")), Face((300, 0, 120, 120), probs_of("sad"))], 0.1)
    assert tracker.main().id == 1, "a larger newcomer does not take over"
    tracker.update([Face((0, 0, 60, 60), probs_of("happy")), Face((300, 0, 120, 120), probs_of("sad"))], 0.2)
    assert tracker.main().id == 2, "the first face is now much smaller"
