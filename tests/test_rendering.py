"""Drawing faces onto images: labels a person can read where the image is shown, phones included."""

import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.media.drawing import COLORS_BGR, draw_faces
from fer_core.pipeline import Face

PHONE_WIDTH = 360  # CSS pixels an image gets on a 390 px wide phone screen
LETTER = 9  # px: the smallest letters read comfortably on a phone


def face(box, emotion: str) -> Face:
    probs = np.full(len(EMOTIONS), 0.02, np.float32)
    probs[EMOTIONS.index(emotion)] = 0.88
    return Face(box, probs)


def label_blocks(drawn: np.ndarray, faces: list[Face]) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of each face's label above its box, found by its emotion's colour."""
    blocks = []
    for f in faces:
        above = np.all(drawn[: f.box[1] - 10] == COLORS_BGR[f.label], axis=2)  # clear of the box's top edge
        rows, columns = np.nonzero(above)
        blocks.append((columns.min(), rows.min(), columns.max(), rows.max()))
    return blocks


def test_labels_on_a_group_photo_can_be_read_at_phone_width_and_do_not_run_together():
    blank = np.full((1000, 2000, 3), 170, np.uint8)
    boxes = [(170, 490, 145, 145), (480, 460, 150, 150), (760, 520, 112, 112), (1040, 480, 147, 147)]
    faces = [face(box, emotion) for box, emotion in zip(boxes, ("happy", "sad", "angry", "surprise"))]
    blocks = label_blocks(draw_faces(blank, faces), faces)
    for (left, top, _, bottom), (x, y, _, _) in zip(blocks, boxes):
        assert y - 20 <= bottom < y and abs(left - x) < 5  # just above its own face
        assert (bottom - top) * PHONE_WIDTH / blank.shape[1] >= LETTER  # once the photo is 360 px wide
    assert all(a[2] < b[0] for a, b in zip(blocks, blocks[1:]))  # side by side, not running together


def test_a_lone_face_gets_its_label_on_one_line():
    blank = np.full((480, 640, 3), 170, np.uint8)
    faces = [face((200, 150, 60, 60), "happy")]
    ((left, top, right, bottom),) = label_blocks(draw_faces(blank, faces, ["#1 happy 88%"]), faces)
    assert right - left > 60 and (bottom - top) * PHONE_WIDTH / 640 < 3 * LETTER  # one line, wider than the face
    assert (bottom - top) * PHONE_WIDTH / 640 >= LETTER


def test_probability_bars_sit_beside_the_face_inside_the_image_in_rows_as_tall_as_label_letters():
    blank = np.full((480, 640, 3), 170, np.uint8)
    for box, side in (((100, 150, 120, 120), "right"), ((520, 150, 110, 110), "left")):
        drawn = draw_faces(blank, [face(box, "happy")], show_probs=True)
        x, y, w, _ = box
        track = np.all(drawn[y:] == (40, 40, 40), axis=2)  # the bars' dark background
        rows, columns = np.nonzero(track)
        assert columns.min() > x + w if side == "right" else columns.max() < x
        # seven rows, each at least the labels' smallest letter height once the image is 360 px wide
        assert (rows.max() - rows.min()) * PHONE_WIDTH / 640 >= 7 * LETTER * 0.9
