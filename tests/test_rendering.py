"""Drawing faces onto images: labels a person can read where the image is shown, phones included."""

import cv2
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


def covered_share(drawn: np.ndarray, blank: np.ndarray, box) -> float:
    """Share of the face box's inside (its drawn edges left out) whose pixels the drawing changed."""
    x, y, w, h = box
    edge = max(2, round(blank.shape[1] / 300)) + 1
    inside = (slice(y + edge, y + h - edge), slice(x + edge, x + w - edge))
    return (drawn[inside] != blank[inside]).any(axis=2).sum() / (w * h)


SHAPES = [
    (96, 96),
    (120, 160),
    (300, 300),
    (480, 640),
    (640, 480),
    (720, 1280),
    (1080, 1080),
    (1000, 2000),
    (2000, 900),
]


def boxes_on(height: int, width: int):
    """Square faces of a fifth of the image's short side up to all of it, at its corners, edges and centre,
    and the face that fills the whole frame."""
    yield 0, 0, width, height
    for size in (0.2, 0.5, 0.8, 0.95, 1.0):
        side = round(size * min(height, width))
        for fx in (0, 0.5, 1):
            for fy in (0, 0.5, 1):
                yield round(fx * (width - side)), round(fy * (height - side)), side, side


def test_a_label_never_covers_the_face_on_any_image_shape_close_ups_included():
    for height, width in SHAPES:
        blank = np.full((height, width, 3), 170, np.uint8)
        line = max(2, round(width / 300))  # the box's edges, as draw_faces draws them
        for box in boxes_on(height, width):
            faces = [face(box, "angry")]
            drawn = draw_faces(blank, faces, ["#1 angry 88%"])
            share = covered_share(drawn, blank, box)
            color = np.array(COLORS_BGR["angry"], np.uint8)
            edges = cv2.rectangle(blank.copy(), box[:2], (box[0] + box[2], box[1] + box[3]), COLORS_BGR["angry"], line)
            label = cv2.countNonZero(cv2.inRange(drawn, color, color)) - cv2.countNonZero(
                cv2.inRange(edges, color, color)
            )
            x, y, w, h = box
            free = max(y, height - y - h, x, width - x - w)  # the widest margin around the face
            context = f"{box} on {width}x{height}"
            assert share <= 0.10, f"the label covers {share:.0%} of the face {context}"
            if free >= max(60, 0.25 * min(height, width)):  # room for a word at the smallest letters
                assert share == 0, f"the label is inside the face {context} though there is room outside"
            if min(w, h) >= 100:
                assert label > 0, f"no label for the face {context}"


def test_a_face_filling_a_photo_keeps_its_eyes_nose_and_mouth_clear(astronaut_bgr):
    close_up = np.ascontiguousarray(astronaut_bgr[30:230, 150:330])  # the astronaut's head, 180x200
    box = (0, 0, close_up.shape[1], close_up.shape[0])
    drawn = draw_faces(close_up, [face(box, "happy")], ["#1 happy 88%"])
    assert covered_share(drawn, close_up, box) <= 0.10
    middle = (slice(50, 180), slice(40, 150))  # eyes to chin
    assert np.array_equal(drawn[middle], close_up[middle])
