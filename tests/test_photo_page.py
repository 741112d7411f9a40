import csv
import io
import json
import re
import zipfile

import cv2
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
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download annotated image", "Download results (CSV)", "Download results (JSON)"]


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


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _group(astronaut_bgr, count: int) -> np.ndarray:
    """`count` copies of the astronaut's head side by side on a grey ramp (RGB)."""
    head = cv2.resize(astronaut_bgr[0:300, 100:350, ::-1], (200, 240), interpolation=cv2.INTER_AREA)
    ramp = np.repeat(np.linspace(60, 200, 320, dtype=np.uint8)[:, None], 220 * count, axis=1)
    canvas = np.ascontiguousarray(np.dstack([ramp] * 3))
    for i in range(count):
        canvas[40:280, 10 + 220 * i : 210 + 220 * i] = head
    return canvas


def _download(at, label: str):
    [button] = [b for b in at.get("download_button") if b.proto.label == label]
    return button


def test_several_photos_make_a_gallery_and_one_csv_json_and_zip_for_all(astronaut_bgr):
    rgb = astronaut_bgr[:, :, ::-1]
    files = [
        ("astronaut.jpg", _jpeg(rgb), "image/jpeg"),
        ("pair.png", _png(_group(astronaut_bgr, 2)), "image/png"),
        ("wall.jpg", _jpeg(np.full((240, 320, 3), 255, np.uint8)), "image/jpeg"),
        ("notes.txt", b"not a photo", "text/plain"),
    ]
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value(files).run()
    assert not at.exception
    assert "Cannot read **notes.txt**" in at.error[0].value, "a bad file gets its message, the others go on"
    assert at.success[0].value == "3 photos, 3 faces found."
    captions = [image.captions[0] for image in at.get("image")[:3]]
    assert captions[0].startswith("astronaut.jpg: #1 happy") and captions[1].startswith("pair.png: #1 ")
    assert captions[2] == "wall.jpg: no face"
    assert [e.label for e in at.expander] == ["astronaut.jpg: 1 face", "pair.png: 2 faces", "wall.jpg: 0 faces"]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download annotated images (ZIP)", "Download results (CSV)", "Download results (JSON)"]


def test_the_exports_hold_every_photo(astronaut_bgr, pipeline):
    from fer_core.media.export import PHOTO_COLUMNS, annotated_zip, photos_csv, photos_json
    from fer_core.media.photos import analyse_photo

    rgb = astronaut_bgr[:, :, ::-1]
    photos = [
        analyse_photo(pipeline, _jpeg(rgb), "astronaut.jpg"),
        analyse_photo(pipeline, _png(_group(astronaut_bgr, 2)), "pair.png"),
    ]
    rows = list(csv.DictReader(io.StringIO(photos_csv([p.result for p in photos]))))
    assert tuple(rows[0]) == PHOTO_COLUMNS
    assert [(r["image"], r["face"]) for r in rows] == [("astronaut.jpg", "1"), ("pair.png", "1"), ("pair.png", "2")]
    document = json.loads(photos_json([p.result for p in photos]))
    assert [len(d["faces"]) for d in document] == [1, 2] and document[1]["faces"][1]["face"] == 2
    # JPEG in, JPEG out; PNG in, PNG out; the numbers in the list are drawn on the boxes in the same order
    assert photos[0].file_name == "astronaut_emotions.jpg" and photos[0].annotated[:3] == b"\xff\xd8\xff"
    assert photos[1].file_name == "pair_emotions.png" and photos[1].annotated[:4] == b"\x89PNG"
    xs = [face.box[0] for face in photos[1].result.faces]
    assert xs == sorted(xs), "faces side by side are numbered left to right"
    with zipfile.ZipFile(io.BytesIO(annotated_zip([(p.file_name, p.annotated) for p in photos]))) as archive:
        assert archive.namelist() == ["astronaut_emotions.jpg", "pair_emotions.png"]


def test_many_faces_get_a_compact_table_and_charts_on_demand(astronaut_bgr):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value([("team.png", _png(_group(astronaut_bgr, 5)), "image/png")]).run()
    assert not at.exception and at.success[0].value == "5 faces found."
    table = at.dataframe[0].value
    assert list(table.columns) == ["face", "emotion", "confidence", "runner-up"]
    assert list(table["face"]) == ["#1", "#2", "#3", "#4", "#5"]
    assert list(table["emotion"]) == ["happy"] * 5
    assert len(at.get("plotly_chart")) == 0, "charts only on demand"
    at.toggle(key="charts-0").set_value(True).run()
    assert len(at.get("plotly_chart")) == 5


def test_a_photo_from_the_camera(astronaut_bgr):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio[0].set_value("Camera").run()
    at.camera_input[0].set_value(("camera.jpg", _jpeg(astronaut_bgr[:, :, ::-1]), "image/jpeg")).run()
    assert not at.exception and at.success[0].value == "1 face found."


def test_no_downloads_without_a_face():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value([("wall.jpg", _jpeg(np.full((240, 320, 3), 255, np.uint8)), "image/jpeg")]).run()
    assert not at.exception and "No face found" in at.info[0].value
    assert at.get("download_button") == []


def test_the_annotated_image_is_encoded_once_per_upload(astronaut_bgr, monkeypatch):
    import fer_core.media.photos

    calls = []
    encode = fer_core.media.photos.encode_jpeg
    monkeypatch.setattr(fer_core.media.photos, "encode_jpeg", lambda image: calls.append(1) or encode(image))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value([("astronaut.jpg", _jpeg(astronaut_bgr[:, :, ::-1]), "image/jpeg")]).run()
    assert len(calls) == 1
    at.run()  # any rerun, e.g. after a download or a widget change that does not change the drawing
    assert len(calls) == 1


def test_why_this_label_shows_the_map_with_how_to_read_it_and_its_cost(astronaut_bgr):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value([("astronaut.jpg", _jpeg(astronaut_bgr[:, :, ::-1]), "image/jpeg")]).run()
    assert [image.captions[0] for image in at.get("image")][1:] == ["Face #1"]
    at.toggle(key="why-0-1").set_value(True).run()
    assert not at.exception
    assert [image.captions[0] for image in at.get("image")][1:] == ["Face #1", "What it relied on"]
    [text] = [c.value for c in at.caption if "Cost:" in c.value]
    assert "lowered the chance of **happy** most" in text and "100 covered copies classified" in text


def test_reading_order_numbers_rows_from_the_top_left_to_right():
    from fer_core.media.photos import reading_order
    from fer_core.pipeline import Face

    probs = np.full(7, 1 / 7)
    boxes = [(300, 20, 80, 80), (10, 30, 90, 90), (150, 200, 80, 80), (160, 10, 70, 70), (5, 210, 85, 85)]
    ordered = [face.box for face in reading_order([Face(box, probs) for box in boxes])]
    assert ordered == [(10, 30, 90, 90), (160, 10, 70, 70), (300, 20, 80, 80), (5, 210, 85, 85), (150, 200, 80, 80)]


def test_several_photos_report_their_progress_photo_by_photo(astronaut_bgr):
    files = [
        ("astronaut.jpg", _jpeg(astronaut_bgr[:, :, ::-1]), "image/jpeg"),
        ("pair.png", _png(_group(astronaut_bgr, 2)), "image/png"),
        ("notes.txt", b"not a photo", "text/plain"),
    ]
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value(files).run()
    assert not at.exception
    [status] = at.status
    assert re.fullmatch(r"3 photos analysed in \d+ s", status.label) and status.state == "complete"
    assert [line.value for line in status.markdown] == [
        "Photo 1 of 3, astronaut.jpg: 1 face",
        "Photo 2 of 3, pair.png: 2 faces",
        "Photo 3 of 3, notes.txt: cannot be read",
    ]
    at.run()  # a rerun with nothing new to analyse shows its results at once, with no progress
    assert not at.status
    assert [image.captions[0].split(":")[0] for image in at.get("image")[:2]] == ["astronaut.jpg", "pair.png"]


def test_no_face_advice_names_only_the_sliders_that_can_still_go_lower():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value([("wall.jpg", _jpeg(np.full((240, 320, 3), 255, np.uint8)), "image/jpeg")]).run()
    assert [slider.label for slider in at.slider] == ["Strictness", "Smallest face (% of the shorter side)"]
    advice = {}
    for settings in ((0, 5), (3, 5), (3, 2), (0, 2)):
        at.slider[0].set_value(settings[0])
        at.slider[1].set_value(settings[1])
        at.run()
        assert not at.exception
        advice[settings] = at.info[0].value
    assert advice[(0, 5)].endswith("try a larger or more frontal face, or lower the smallest face.")
    assert advice[(3, 5)].endswith("or lower the strictness and the smallest face.")
    assert advice[(3, 2)].endswith("or lower the strictness.")
    assert advice[(0, 2)].endswith("try a larger or more frontal face.")
