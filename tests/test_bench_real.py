"""The real-photo benches' own arithmetic: which photos they read, what counts as found, the frames they cut."""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from real_detection import free_frames, in_square, nested, on_closeup  # noqa: E402
from real_faces import recalls, wild_items  # noqa: E402

from fer_core.reporting.evaluation import evaluate_predictions  # noqa: E402


def test_wild_items_reads_class_folders_and_keeps_a_subset(tmp_path):
    for name in ("angry/a.jpg", "happy/b.jpg", "happy/c.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [(p.name, label) for p, label in wild_items(tmp_path)] == [("a.jpg", 0), ("b.jpg", 3), ("c.jpg", 3)]
    (tmp_path / "list.txt").write_text("happy/c.jpg\nangry/a.jpg\n")
    assert [p.name for p, _ in wild_items(tmp_path, tmp_path / "list.txt")] == ["a.jpg", "c.jpg"]


def test_recalls_mark_the_classes_a_set_does_not_have():
    scores = evaluate_predictions(np.array([0, 0, 3, 3]), np.array([0, -1, 3, 4]))
    assert recalls(scores) == "0.50 / - / - / 0.50 / - / - / -"


def test_a_closeup_is_found_by_a_large_central_box_only():
    assert on_closeup((350, 350, 3), [(60, 60, 230, 230)])
    assert not on_closeup((350, 350, 3), [(0, 0, 60, 60), (150, 150, 60, 60)])  # a corner box, a small one
    assert not on_closeup((350, 350, 3), [])


def test_a_group_face_is_found_by_a_box_centred_in_its_square_of_a_like_size():
    square = (100, 100, 200, 200)
    assert in_square((150, 150, 100, 100), square)
    assert not in_square((150, 150, 40, 40), square)  # too small
    assert not in_square((310, 100, 200, 200), square)  # centre outside


def test_free_frames_are_four_portrait_or_landscape_frames():
    picture = np.random.default_rng(0).integers(0, 256, (900, 1600, 3), np.uint8)
    frames = free_frames(picture, np.random.default_rng(1))
    assert len(frames) == 4
    assert all(f.shape in ((480, 640, 3), (640, 480, 3)) for f in frames)


def test_two_boxes_on_one_face_are_nested_and_two_faces_are_not():
    assert nested([(0, 0, 400, 400), (80, 80, 190, 190)])
    assert not nested([(0, 0, 100, 100), (200, 0, 100, 100)])
    assert not nested([(0, 0, 100, 100)])
