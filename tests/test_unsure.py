"""A face the model is unsure of is shown with its top two labels, not one confident word."""

import csv
import io
import json
import shutil

import numpy as np
import pytest

from fer_core.labels import EMOTIONS
from fer_core.media.drawing import COLORS_BGR, draw_faces
from fer_core.media.export import PHOTO_COLUMNS, photos_csv
from fer_core.media.photos import PhotoResult
from fer_core.media.tracking import FaceTracker
from fer_core.model.classifier import CARD_FILE, LIVE_MODEL, unsure_threshold
from fer_core.pipeline import Face
from fer_core.reporting.unsure import choose_unsure_below, write_unsure_below


def probs(**given) -> np.ndarray:
    p = np.zeros(len(EMOTIONS), np.float32)
    for name, value in given.items():
        p[EMOTIONS.index(name)] = value
    p[p == 0] = (1 - p.sum()) / (p == 0).sum()
    return p


def test_a_low_top_probability_reads_as_the_top_two_with_a_question():
    doubtful = Face((10, 10, 50, 50), probs(sad=0.38, neutral=0.31), unsure_below=0.45)
    clear = Face((10, 10, 50, 50), probs(happy=0.87), unsure_below=0.45)
    assert doubtful.unsure and doubtful.caption == "sad or neutral?"
    assert not clear.unsure and clear.caption == "happy 87%"
    assert doubtful.to_dict()["unsure"] is True and doubtful.to_dict()["runner_up"] == "neutral"
    assert not Face((0, 0, 9, 9), probs(sad=0.2, fear=0.19)).unsure, "no threshold: never unsure"


def test_the_drawn_tag_and_the_exports_say_unsure():
    blank = np.full((480, 640, 3), 170, np.uint8)
    doubtful = Face((250, 200, 100, 100), probs(angry=0.36, sad=0.30), unsure_below=0.45)
    sure = Face((250, 200, 100, 100), probs(angry=0.80), unsure_below=0.45)

    def tag_width(face: Face) -> int:  # the tag is drawn above the box in the emotion's colour
        _, columns = np.nonzero(np.all(draw_faces(blank, [face])[: face.box[1] - 3] == COLORS_BGR["angry"], axis=2))
        return columns.max() - columns.min()

    assert tag_width(doubtful) > 1.2 * tag_width(sure), "'angry or sad?' is drawn, a longer tag than 'angry 80%'"
    rows = list(csv.DictReader(io.StringIO(photos_csv([PhotoResult("a.jpg", 640, 480, [doubtful, sure])]))))
    assert tuple(rows[0]) == PHOTO_COLUMNS
    assert [(r["label"], r["runner_up"].split()[0], r["unsure"]) for r in rows] == [
        ("angry", "sad", "1"),
        ("angry", "sad", "0"),
    ]


def test_a_followed_face_keeps_its_models_threshold():
    tracker = FaceTracker(smoothing=0.5, grace_seconds=1.0, iou_threshold=0.3)
    (track,) = tracker.update([Face((10, 10, 50, 50), probs(fear=0.35, surprise=0.33), unsure_below=0.45)], 0.0)
    assert track.unsure and track.face.unsure and track.caption == "fear or surprise?"


def test_the_threshold_is_where_the_top_label_turns_more_often_wrong_than_right():
    rng = np.random.default_rng(0)
    top = rng.uniform(0.2, 1.0, 4000)
    right = rng.uniform(size=top.size) < np.clip(1.6 * top - 0.3, 0, 1)  # right half the time at 0.5
    choice = choose_unsure_below(top, right, right | (rng.uniform(size=top.size) < 0.5))
    assert 0.45 <= choice.unsure_below <= 0.55  # where the label is right half the time
    assert choice.unsure_top_accuracy < 0.5 < choice.sure_accuracy
    assert choice.unsure_top_two_accuracy > choice.unsure_top_accuracy
    always_right = choose_unsure_below(top, np.ones(top.size, bool), np.ones(top.size, bool))
    assert always_right.unsure_below == 0.0 and always_right.unsure_share == 0.0


def test_the_app_reads_the_threshold_from_the_models_card(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / CARD_FILE).write_text(json.dumps({"name": "x"}))
    assert unsure_threshold(folder) == 0.0
    choice = choose_unsure_below([0.3] * 20 + [0.9] * 20, [False] * 20 + [True] * 20, [True] * 40)
    write_unsure_below(folder, choice, "a test")
    card = json.loads((folder / CARD_FILE).read_text())
    assert card["name"] == "x" and card["unsure_below_chosen"]["on"] == "a test"
    assert unsure_threshold(folder) == unsure_threshold(folder / "model.keras") == choice.unsure_below > 0.3


@pytest.mark.parametrize("model", ["fer_vgg", "fer_live"])
def test_each_shipped_model_has_a_threshold_chosen_on_real_photos(model):
    from fer_core.model.classifier import MODELS_DIR

    card = json.loads((MODELS_DIR / model / CARD_FILE).read_text())
    assert 0.2 <= card["unsure_below"] <= 0.8
    assert card["unsure_below_chosen"]["on"].startswith("wild-dev")
    assert unsure_threshold(MODELS_DIR / model) == card["unsure_below"]


def test_a_copied_network_file_without_its_card_is_never_unsure(tmp_path):
    shutil.copy(LIVE_MODEL, tmp_path / "model.keras")
    assert unsure_threshold(tmp_path / "model.keras") == 0.0
    assert unsure_threshold(tmp_path / "other.keras") == 0.0
