"""The face detector on real pictures: close-ups, face-free pictures, small faces in a group, duplicates."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from fer_core.faces.detection import FaceDetector, iou


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def _bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else np.ascontiguousarray(image[:, :, ::-1])


ASTRONAUT_FACE = (175, 66, 97, 97)  # the face's square in `astronaut_bgr`, brow to chin, as the cascades frame it


@pytest.mark.parametrize("crop", [(60, 215, 150, 290), (40, 240, 130, 320)], ids=["cut-at-brow-and-chin", "tight"])
def test_a_close_up_face_is_found(detector, astronaut_bgr, crop):
    top, bottom, left, right = crop
    close_up = astronaut_bgr[top:bottom, left:right]  # the face fills the frame, as FER2013 crops do
    boxes = detector.detect(close_up)
    assert len(boxes) == 1
    x, y, w, h = ASTRONAUT_FACE
    assert iou(boxes[0], (x - left, y - top, w, h)) > 0.75, "the box is the face, not a part of it or the head"


def test_a_close_up_face_is_found_by_the_video_search(detector, astronaut_bgr):
    """Video frames search close-ups only where the whole frame held no face: a face filling the
    camera's frame is such a frame."""
    from fer_core.faces.detection import video_settings

    close_up = cv2.resize(astronaut_bgr[80:185, 150:290], (640, 480))  # cut at brow and lip: too close
    settings = video_settings(0, 0.15, 480)
    assert detector._detect(close_up, settings, close_ups=False) == [], "the whole frame's search misses it"
    boxes = detector.detect(close_up, settings)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert abs(x + w / 2 - 320) < 120 and abs(y + h / 2 - 240) < 120 and w > 400


def test_on_video_frames_the_second_cascade_finds_a_face_the_first_missed_beside_one_it_found(astronaut_bgr):
    """Video frames run `alt2` first and `default` outside the faces `alt2` found: here `alt2` is made
    blind to the right half of the frame, and `default` must find the face there, and only that one."""
    from fer_core.faces.detection import video_settings

    class LeftHalfOnly:
        def __init__(self, cascade):
            self.cascade, self.calls = cascade, []

        def detectMultiScale(self, image, *args, **kwargs):  # noqa: N802  (OpenCV's name)
            raw = np.asarray(self.cascade.detectMultiScale(image, *args, **kwargs)).reshape(-1, 4)
            self.calls.append(len(raw))
            return raw[raw[:, 0] + raw[:, 2] / 2 < image.shape[1] / 2]

    face = cv2.resize(astronaut_bgr[30:250, 120:330], (200, 200))
    frame = np.full((480, 640, 3), (170, 180, 190), np.uint8)
    frame[140:340, 40:240] = face
    frame[140:340, 400:600] = face
    detector = FaceDetector()
    blind = detector.proposals._cascades["alt2"] = LeftHalfOnly(detector.proposals._cascades["alt2"])
    boxes = sorted(detector.detect(frame, video_settings(0, 0.15, 480)))
    assert blind.calls, "alt2 ran"
    assert len(boxes) == 2
    assert [round((x + w / 2) / 10) for x, _, w, _ in boxes] == [14, 50]  # the centres, 140 and 500
    # `default` searched the frame with the face `alt2` found filled in: it proposes nothing there.
    settings = video_settings(0, 0.15, 480)
    copy = detector.proposals.copy(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), settings)
    left_face = next(box for box in boxes if box[0] < 320)
    assert all(p.box[0] > 320 for p in detector.proposals.whole(copy, settings, ("default",), outside=[left_face]))
    assert any(p.box[0] < 320 for p in detector.proposals.whole(copy, settings, ("default",)))


@pytest.mark.parametrize("name", ["coffee", "rocket", "brick", "page", "clock", "moon", "chelsea", "hubble_deep_field"])
def test_a_face_free_picture_gets_no_face(detector, name):
    from skimage import data

    picture = _bgr(getattr(data, name)())
    assert detector.detect(picture) == []
    assert detector.detect(cv2.resize(picture, None, fx=2, fy=2)) == []


def test_small_faces_in_a_group_photo_are_found_once_each(detector, astronaut_bgr):
    head = astronaut_bgr[45:195, 150:300]  # her face (a 94 px box) with a little hair and helmet around it
    photo = np.full((1080, 1920, 3), (150, 160, 170), np.uint8)
    places = [(100, 200), (500, 600), (900, 300), (1300, 700), (1650, 150)]
    side = 100  # the face itself is about 63 px: 6% of the shorter side
    for x, y in places:
        photo[y : y + side, x : x + side] = cv2.resize(head, (side, side), interpolation=cv2.INTER_AREA)
    boxes = detector.detect(photo)
    assert len(boxes) == len(places)
    for x, y in places:
        assert sum(bx <= x + side / 2 <= bx + bw and by <= y + side / 2 <= by + bh for bx, by, bw, bh in boxes) == 1
    assert all(iou(a, b) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_generated_frames_faces_found_and_face_free_frames_left_empty(detector, fer2013):
    """FER2013 test faces pasted into frames (the detection benchmark's generator, its held-out half of the
    faces and pictures: none of them taught the face verifier) are found, and face-free frames get no face."""
    from fer_core.training.synthetic import face_frame, free_frame, load_faces, load_pictures, matches

    faces, pictures = load_faces(fer2013 / "test", "holdout"), load_pictures(None, "holdout")
    rng = np.random.default_rng(3)
    truths = found = phantoms = 0
    for _ in range(12):
        frame = face_frame(rng, faces, pictures)
        boxes = detector.detect(frame.image)
        truths += len(frame.boxes)
        found += sum(any(matches(box, truth) for box in boxes) for truth in frame.boxes)
        phantoms += len(detector.detect(free_frame(rng, pictures).image))
    assert found >= 0.8 * truths, f"{found} of {truths} faces found"
    assert phantoms <= 1


def test_the_mirror_pass_puts_its_boxes_back_on_the_face(detector, astronaut_bgr):
    # the face near the left edge of a wide grey frame: its mirror image is near the right edge
    frame = np.full((300, 900), 150, np.uint8)
    frame[40:260, 20:230] = cv2.cvtColor(astronaut_bgr[30:250, 120:330], cv2.COLOR_BGR2GRAY)
    settings = replace(detector.settings, cascades=("default",), tilts=())
    once = {p.box for p in detector.proposals.propose(frame, replace(settings, mirror=False))}
    both = {p.box for p in detector.proposals.propose(frame, settings)}
    from_mirror = both - once
    assert once <= both and from_mirror, "the mirror pass adds boxes of its own"
    assert all(x + w / 2 < 300 for x, y, w, h in from_mirror), "each lies over the face, none over its mirror place"
    found = detector.detect(frame)
    assert found and all(x + w / 2 < 300 for x, _, w, _ in found)


@pytest.mark.parametrize("degrees", [35, -40])
def test_a_tilted_head_is_found_by_the_turned_search(detector, astronaut_bgr, degrees):
    head = cv2.cvtColor(astronaut_bgr[0:300, 90:360], cv2.COLOR_BGR2GRAY)
    turn = cv2.getRotationMatrix2D((135, 150), degrees, 1.0)
    frame = np.full((480, 640), 150, np.uint8)
    frame[90:390, 180:450] = cv2.warpAffine(head, turn, (270, 300), borderValue=150)
    # The upright search's boxes of it score under the threshold (the second look, asked about them, lets one
    # through: so the turned search is shown without it, and then the whole detector)
    upright = replace(detector.settings, tilts=(), second_look_from=None)
    assert detector.detect(frame, upright) == [], "upright search alone misses it"
    for settings in (replace(detector.settings, second_look_from=None), detector.settings):
        found = detector.detect(frame, settings)
        assert len(found) == 1, found
        x, y, w, h = found[0]
        assert 180 < x + w / 2 < 450 and 90 < y + h / 2 < 390 and 60 < w < 200, "the box lies on the head"


def test_a_head_turned_too_far_for_the_frontal_cascades_is_found_by_the_profile_cascade(detector, fer2013):
    """A FER2013 test face, a smiling head turned three-quarters to the right and tilted: the frontal cascades
    propose no box that matches it (upright, mirror image too); the profile cascade, which finds heads turned
    left, does on the mirror image, and the box passes the verifier with the profile cascade's margin."""
    from fer_core.training.synthetic import matches

    face = cv2.imread(str(fer2013 / "test" / "happy" / "PublicTest_92799343.jpg"), cv2.IMREAD_GRAYSCALE)
    frame = np.full((480, 640), 150, np.uint8)
    frame[140:260, 220:340] = cv2.resize(face, (120, 120), interpolation=cv2.INTER_CUBIC)
    truth = (220, 140, 120, 120)
    settings = replace(detector.settings, tilts=())
    copy = detector.proposals.copy(frame, settings)

    def boxes_on_the_face(cascades, mirror):
        proposals = detector.proposals.whole(copy, replace(settings, mirror=mirror), cascades)
        return [p for p in proposals if matches(p.box, truth)]

    assert boxes_on_the_face(("default", "alt2"), mirror=True) == []
    assert boxes_on_the_face(("profile",), mirror=False) == [], "turned right: the profile cascade sees it mirrored"
    profile = boxes_on_the_face(("profile",), mirror=True)
    assert profile and all(p.cascade == "profile" for p in profile)
    plain = replace(settings, second_look_from=None)  # a box raised by the second look would hide the margin
    scores = [score for score, _ in detector._scored(frame, plain, profile)]
    stricter = [score for score, _ in detector._scored(frame, replace(plain, profile_margin=2.5), profile)]
    assert np.allclose(np.subtract(scores, stricter), 2.0), "a profile box's score carries the margin"
    assert max(scores) >= settings.min_face_score
    assert any(matches(box, truth) for box in detector.detect(frame, settings))


def test_of_nested_boxes_the_better_checked_is_the_face():
    from fer_core.faces.detection import _faces

    face, head, eye = (100, 100, 80, 80), (60, 60, 170, 170), (120, 125, 30, 30)
    assert _faces([(9.0, face), (7.0, head)], 6.0) == [face], "a head seen as a face around the face goes"
    assert _faces([(9.0, face), (7.0, eye)], 6.0) == [face], "an eye seen as a face inside the face goes"
    assert _faces([(7.0, face), (9.0, eye)], 6.0) == [eye], "the better checked stays, whichever is inside"
    assert _faces([(9.0, face), (5.0, head)], 6.0) == [face]
    apart = (400, 100, 80, 80)
    assert _faces([(9.0, face), (7.0, apart), (8.0, (104, 100, 80, 80))], 6.0) == [(102, 100, 80, 80), apart]


def test_a_face_gets_the_median_place_and_size_of_the_boxes_on_it():
    """Each search puts its box a little off the face in its own way: the face's box is the median of all the
    boxes that overlap it, however each scored, not the best-scored one alone; boxes elsewhere play no part."""
    from fer_core.faces.detection import _faces

    best = (112, 100, 80, 80)  # the best checked, off to the right
    others = [(100, 98, 80, 80), (98, 102, 84, 84), (102, 100, 76, 76), (100, 104, 80, 80)]
    elsewhere = (400, 100, 80, 80)
    scored = [(9.0, best), (2.0, elsewhere)] + list(zip((5.0, 3.0, -1.0, 4.0), others))
    assert _faces(scored, 6.0) == [(100, 100, 80, 80)]
