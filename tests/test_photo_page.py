import io
import json

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

PAGE = str(ROOT / "pages" / "photo.py")


def _jpeg(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_upload_of_a_real_face_shows_box_label_chart_and_downloads(astronaut_bgr):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value(("astronaut.jpg", _jpeg(astronaut_bgr[:, :, ::-1]), "image/jpeg")).run()
    assert not at.exception and not at.error
    assert at.success[0].value == "1 face found."
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "happy" in chart["layout"]["title"]["text"]
    assert chart["data"][0]["y"] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    assert [b.proto.label for b in at.get("download_button")] == ["Download annotated image", "Download results (JSON)"]


def test_broken_upload_gets_a_clear_message():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value(("holiday.jpg", b"this is not a photo", "image/jpeg")).run()
    assert not at.exception
    assert "Cannot read **holiday.jpg**" in at.error[0].value


def test_photo_without_faces_says_so():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value(("wall.jpg", _jpeg(np.full((240, 320, 3), 255, np.uint8)), "image/jpeg")).run()
    assert not at.exception
    assert "No face found" in at.info[0].value


def test_a_text_file_gets_a_visible_message_not_only_a_red_icon():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value(("notes.txt", b"shopping list: eggs, milk", "text/plain")).run()
    assert not at.exception
    assert "Cannot read **notes.txt**: not an image file" in at.error[0].value
