"""Drawing faces onto images: labels a person can read where the image is shown, phones included."""

import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.pipeline import Face
from fer_core.rendering import COLORS_BGR, draw_faces

PHONE_WIDTH = 360  # CSS pixels an image gets on a 390 px wide phone screen


def happy(box) -> Face:
    probs = np.full(len(EMOTIONS), 0.02, np.float32)
    probs[EMOTIONS.index("happy")] = 0.88
    return Face(box, probs)


def label_block(blank: np.ndarray, box) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the label drawn for one face above its box."""
    drawn = draw_faces(blank, [happy(box)])
    above = np.all(drawn[: box[1] - 10] == COLORS_BGR["happy"], axis=2)  # clear of the box's top edge
    rows, columns = np.nonzero(above)
    return columns.min(), rows.min(), columns.max(), rows.max()


def test_labels_on_a_group_photo_can_be_read_at_phone_width_and_do_not_run_together():
    blank = np.full((1000, 2000, 3), 170, np.uint8)
    boxes = [(170, 490, 145, 145), (600, 460, 150, 150), (1050, 520, 112, 112), (1440, 480, 147, 147)]
    blocks = [label_block(blank, box) for box in boxes]
    for (left, top, _, bottom), (x, y, _, _) in zip(blocks, boxes):
        assert y - 20 <= bottom < y and abs(left - x) < 5  # just above its own face
        # two lines ("happy" / "88%") of letters at least 9 px tall once the photo is 360 px wide
        assert (bottom - top) * PHONE_WIDTH / blank.shape[1] >= 2 * 9
    assert all(a[2] < b[0] for a, b in zip(blocks, blocks[1:]))  # side by side, not overlapping


def test_a_label_fits_on_one_line_above_a_large_face():
    blank = np.full((480, 640, 3), 170, np.uint8)
    left, top, right, bottom = label_block(blank, (200, 150, 240, 240))
    assert right - left > 100 and bottom - top < 0.4 * 240  # one line, over the face's width
