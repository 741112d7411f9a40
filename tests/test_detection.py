"""The face detector on real pictures: close-ups, face-free pictures, small faces in a group, duplicates."""

from pathlib import Path

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
    bx, by, bw, bh = boxes[0]
    # the face square, with the margin a FER2013 crop has around it: not a part of the face, not the whole head
    assert abs(bx + bw / 2 - (x - left + w / 2)) < 0.15 * w and abs(by + bh / 2 - (y - top + h / 2)) < 0.15 * h
    assert 0.9 * w < bw < 1.4 * w


def test_a_close_up_face_is_found_by_the_video_search(detector, astronaut_bgr):
    """Video frames search close-ups only where the whole frame held no face: a face filling the
    camera's frame is such a frame."""
    from fer_core.faces.detection import video_settings

    close_up = cv2.resize(astronaut_bgr[80:185, 150:290], (640, 480))  # cut at brow and lip: too close
    settings = video_settings(0, 0.15, 480)
    gray = cv2.cvtColor(close_up, cv2.COLOR_BGR2GRAY)
    assert detector._haar(gray, settings, close_ups=False) == [], "the whole frame's search misses it"
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
    assert all(p.box[0] > 320 for p in detector.proposals.whole(copy, settings, "default", outside=[left_face]))
    assert any(p.box[0] < 320 for p in detector.proposals.whole(copy, settings, "default"))


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


def test_generated_face_free_frames_get_no_face(detector):
    """Face-free frames of the detection benchmark's generator (its held-out pictures and textures): no face."""
    from fer_core.training.synthetic import free_frame, load_pictures

    pictures = load_pictures(None, "holdout")
    rng = np.random.default_rng(3)
    phantoms = sum(bool(detector.detect(free_frame(rng, pictures).image)) for _ in range(40))
    assert phantoms <= 1, f"a face in {phantoms} of 40 face-free frames"


def test_the_photo_search_gives_each_face_its_eyes_level_on_an_upright_face(detector, astronaut_bgr):
    faces = detector.detect_faces(astronaut_bgr)
    assert len(faces) == 1
    (lx, ly), (rx, ry) = faces[0].eyes
    x, y, w, h = faces[0].box
    assert x < lx < rx < x + w and y < ly < y + h / 2 and y < ry < y + h / 2, "both eyes in the box's upper half"
    assert abs(np.degrees(np.arctan2(ry - ly, rx - lx))) < 10


def test_a_turned_photo_gives_turned_eyes(detector, astronaut_bgr):
    """The eyes follow the head: a photo turned by 20 degrees gives eyes on a line turned about as much."""
    turn = cv2.getRotationMatrix2D((256, 256), 20, 1.0)  # counter-clockwise in the picture
    turned = cv2.warpAffine(astronaut_bgr, turn, (512, 512), borderMode=cv2.BORDER_REPLICATE)
    faces = detector.detect_faces(turned)
    assert len(faces) == 1
    (lx, ly), (rx, ry) = faces[0].eyes
    assert -35 < np.degrees(np.arctan2(ry - ly, rx - lx)) < -8


def test_real_close_up_photos_are_found(detector):
    """Real photos of one face filling the picture (the most common upload): the wild-dev set's news and web
    photos, found all but very rarely."""
    wild = Path(__file__).resolve().parent.parent.parent / "shared" / "wild-dev"
    photos = sorted(wild.glob("*/*.jpg"))
    if not photos:
        pytest.skip(f"no real photos at {wild}")
    missed = [path.name for path in photos if not detector.detect(cv2.imread(str(path)))]
    assert len(missed) <= 0.02 * len(photos), f"{len(missed)} of {len(photos)} missed: {missed[:10]}"


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


def test_blazeface_reads_a_size_alike_whether_or_not_other_sizes_came_between(astronaut_bgr):
    from fer_core.faces.blazeface import BlazeFace

    blazeface = BlazeFace()
    blazeface.nets.kept = 2
    view = cv2.resize(astronaut_bgr, (256, 256))

    def read(bgr):
        return [(c.logit, c.corners.round(2).tolist()) for c in blazeface.faces(bgr, 0.0)]

    first = read(view)
    for size in (128, 192, 320):  # more sizes than are kept: the first size's interpreter goes, and comes back
        read(cv2.resize(astronaut_bgr, (size, size)))
    assert len(blazeface.nets.shapes()) == 2 and (1, 256, 256, 3) not in blazeface.nets.shapes()
    assert first and read(view) == first
    assert read(view) == [(c.logit, c.corners.round(2).tolist()) for c in BlazeFace().faces(view, 0.0)]


def test_a_damaged_blazeface_file_is_one_clear_error(tmp_path, monkeypatch):
    from fer_core.faces import detection

    damaged = tmp_path / "face_detection_front.tflite"
    damaged.write_bytes(b"not a network" * 10)
    monkeypatch.setattr(detection, "BLAZEFACE_PATH", damaged)
    with pytest.raises(detection.DetectorError, match="cannot read .*face_detection_front.tflite"):
        FaceDetector()


@pytest.mark.parametrize("seed", [30, 35, 79, 112, 155, 296])
def test_a_sure_phantom_the_verifier_reads_as_no_face_is_vetoed(detector, seed):
    from dataclasses import replace

    from fer_core.training.synthetic import texture

    # Generated 640x480 textures on which BlazeFace is sure of a face; the verifier reads each under -10.
    frame = texture(np.random.default_rng(seed), 640, 480)
    assert detector.detect(frame, replace(detector.settings, verifier_veto=-1e9)), "BlazeFace alone finds a face"
    assert detector.detect(frame) == []


def test_the_veto_keeps_real_faces(detector, astronaut_bgr):
    from dataclasses import replace

    assert len(detector.detect(astronaut_bgr)) == 1
    # The veto reads the sure face: at a threshold above its log-odds it goes.
    assert detector.detect(astronaut_bgr, replace(detector.settings, verifier_veto=100.0)) == []
