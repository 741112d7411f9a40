"""Paths in messages: relative to the project, never the server's absolute layout on a page."""

import pytest
from streamlit.testing.v1 import AppTest
from test_artifacts import make_run

from fer_core.model.classifier import Classifier, ModelError
from fer_core.paths import PROJECT_DIR, shown_path
from fer_core.reporting.artifacts import MODEL_FILE, read_run
from tests.conftest import ROOT


def test_paths_inside_the_project_are_shown_relative_to_it():
    assert shown_path(PROJECT_DIR / "models" / "fer_vgg_base") == "models/fer_vgg_base"
    assert shown_path("models/fer_vgg/model.keras") == "models/fer_vgg/model.keras"


def test_paths_outside_the_project_are_shown_by_their_last_two_parts():
    assert shown_path("/srv/secret/place/models/run") == "…/models/run"


def test_a_missing_model_file_is_named_without_its_absolute_path(tmp_path):
    missing = tmp_path / "runs" / "gone" / MODEL_FILE
    with pytest.raises(ModelError) as error:
        Classifier.load(missing)
    assert str(tmp_path) not in str(error.value) and "…/gone/model.keras" in str(error.value)
    run = read_run(PROJECT_DIR / "models" / "no_such_run")
    assert [p.message for p in run.problems if "is missing from models/no_such_run," in p.message]


def page_texts(at: AppTest) -> list[str]:
    """Everything a visitor reads in the page's messages, captions and text."""
    kinds = ("error", "warning", "info", "success", "caption", "markdown", "title", "code")
    return [str(element.value) for kind in kinds for element in getattr(at, kind)]


@pytest.mark.parametrize("page", ["home", "photo", "live", "dashboard"])
def test_no_page_shows_an_absolute_path_for_a_missing_model_file(monkeypatch, tmp_path, page, astronaut_bgr):
    from test_photo_page import _jpeg

    server_dir = tmp_path / "srv" / "app-data"
    make_run(server_dir / "models" / "fer_vgg")
    (server_dir / "models" / "fer_vgg" / MODEL_FILE).unlink()
    monkeypatch.setenv("FER_MODELS_DIR", str(server_dir / "models"))
    monkeypatch.setenv("FER_MODEL", str(server_dir / "models" / "gone" / MODEL_FILE))
    monkeypatch.setenv("FER_DATA", "")

    script = ROOT / ("app.py" if page == "home" else f"pages/{page}.py")  # home's page links need app.py
    at = AppTest.from_file(str(script), default_timeout=60).run()
    if page == "photo":  # the model is loaded for the first photo
        at.file_uploader[0].set_value(("astronaut.jpg", _jpeg(astronaut_bgr[:, :, ::-1]), "image/jpeg")).run()

    assert not at.exception
    texts = page_texts(at)
    complaints = [text for text in texts if "model" in text and ("missing" in text or "not found" in text)]
    if page == "home":  # the home page reads only the evaluation beside the model
        complaints = [text for text in texts if "No readable evaluation" in text]
    assert complaints, texts
    assert not [text for text in texts if str(tmp_path) in text or "/srv/" in text]
