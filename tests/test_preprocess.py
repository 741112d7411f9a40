import numpy as np

from fer_core.model.preprocess import FACE_SIZE, crop_face, faces_to_batch, to_face_input


def test_face_input_is_48x48_gray_from_any_crop():
    rng = np.random.default_rng(0)
    for shape in [(48, 48), (48, 48, 1), (200, 160, 3), (20, 20, 3)]:
        face = to_face_input(rng.integers(0, 256, shape, np.uint8))
        assert face.shape == (FACE_SIZE, FACE_SIZE) and face.dtype == np.uint8


def test_fer2013_sized_gray_image_passes_unchanged():
    face = np.random.default_rng(1).integers(0, 256, (48, 48), np.uint8)
    assert np.array_equal(to_face_input(face), face)


def test_crop_is_square_with_margin_and_padded_at_the_border():
    image = np.arange(100 * 120, dtype=np.uint32).reshape(100, 120).astype(np.uint8)
    crop = crop_face(image, (10, 20, 40, 50), margin=0.1)
    assert crop.shape == (60, 60)  # the longer side, grown by 10% on each side
    edge = crop_face(image, (0, 0, 30, 30), margin=0.25)
    assert edge.shape == (45, 45)
    assert np.all(edge[0, :] == edge[1, :]) or np.all(edge[:, 0] == edge[:, 1])  # replicated border


def test_batch_shape_and_empty_batch():
    assert faces_to_batch([]).shape == (0, 48, 48, 1)
    batch = faces_to_batch([np.zeros((64, 64, 3), np.uint8), np.zeros((48, 48), np.uint8)])
    assert batch.shape == (2, 48, 48, 1) and batch.dtype == np.uint8


def test_haar_box_frames_a_face_like_fer2013_does(fer2013):
    """The crop margin is chosen so that a detected face is framed like a FER2013 image."""
    import cv2

    from fer_core.faces.detection import DetectorSettings, FaceDetector
    from fer_core.model.preprocess import DEFAULT_MARGIN

    detector = FaceDetector(DetectorSettings(min_neighbors=3, min_face_fraction=0.3))
    ratios = []
    for path in sorted((fer2013 / "test" / "happy").glob("*.jpg"))[:150]:
        big = cv2.resize(cv2.imread(str(path)), (192, 192), interpolation=cv2.INTER_CUBIC)
        boxes = detector.detect(cv2.copyMakeBorder(big, 64, 64, 64, 64, cv2.BORDER_REPLICATE))
        if boxes:
            ratios.append(boxes[0][2] / 192)
    assert len(ratios) > 75
    crop_side = np.median(ratios) * (1 + 2 * DEFAULT_MARGIN)
    assert 0.9 < crop_side < 1.1


def test_a_small_face_is_enlarged_sharply_enough_to_be_read(fer2013):
    """A face of 24 px in a photo (a group photo's smallest) is enlarged to the model's 48 px: bicubically, so
    the live model reads 1,000 FER2013 test faces shrunk to 24 px 60.1% right (bilinear: 52.3%; the same faces
    at their own 48 px: 69.1%)."""
    import cv2

    from fer_core.datasets import load_split
    from fer_core.model.classifier import Classifier
    from fer_core.resources import LIVE_MODEL

    test = load_split(fer2013, "test")
    chosen = np.random.default_rng(0).permutation(len(test.labels))[:1000]
    small = [cv2.resize(face, (24, 24), interpolation=cv2.INTER_AREA) for face in test.images[chosen]]
    probs = Classifier.load(LIVE_MODEL).predict_batch(faces_to_batch(small))
    assert np.mean(probs.argmax(axis=1) == test.labels[chosen]) >= 0.58
