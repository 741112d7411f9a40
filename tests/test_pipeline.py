import numpy as np
import pytest

from fer_core.faces.detection import DetectorSettings
from fer_core.labels import EMOTIONS


def test_astronaut_is_found_and_reads_happy(pipeline, astronaut_bgr):
    faces = pipeline.analyze(astronaut_bgr)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 200  # her face, not the flag or the helmet
    assert faces[0].label == "happy"
    assert faces[0].probs.shape == (7,) and faces[0].probs.sum() == pytest.approx(1.0, abs=1e-4)


def test_boxes_map_back_from_downscaled_detection(pipeline, astronaut_bgr):
    import cv2

    big = cv2.resize(astronaut_bgr, None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)  # 2048 px: detected at 640
    small_box = pipeline.analyze(astronaut_bgr)[0].box
    big_faces = pipeline.analyze(big)
    assert len(big_faces) == 1
    assert np.allclose(big_faces[0].box, np.array(small_box) * 4, atol=0.12 * 4 * small_box[2])
    assert big_faces[0].label == "happy"


def test_no_face_in_a_blank_or_tiny_image(pipeline):
    assert pipeline.analyze(np.full((480, 640, 3), 127, np.uint8)) == []
    assert pipeline.analyze(np.zeros((1, 1, 3), np.uint8)) == []


def test_several_faces_are_classified_in_one_batch(pipeline, astronaut_bgr):
    face = astronaut_bgr[40:240, 130:330]
    canvas = np.full((300, 900, 3), 200, np.uint8)
    for i in range(3):
        canvas[50:250, 50 + i * 300 : 250 + i * 300] = face
    faces = pipeline.analyze(canvas, DetectorSettings(min_neighbors=4))
    assert len(faces) == 3
    assert all(f.label == "happy" for f in faces)
    assert sorted(f.to_dict()["label"] for f in faces) == ["happy"] * 3
    assert set(faces[0].to_dict()["probabilities"]) == set(EMOTIONS)


def test_rendering_draws_on_a_copy(pipeline, astronaut_bgr):
    from fer_core.media.drawing import draw_faces

    faces = pipeline.analyze(astronaut_bgr)
    drawn = draw_faces(astronaut_bgr, faces)
    assert drawn.shape == astronaut_bgr.shape
    x, y, w, h = faces[0].box
    assert not np.array_equal(drawn[y : y + h, x], astronaut_bgr[y : y + h, x])  # the box edge
    assert np.array_equal(drawn[-50:, -50:], astronaut_bgr[-50:, -50:])  # far from the face: untouched
