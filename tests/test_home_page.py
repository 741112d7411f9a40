"""The home page, run through app.py's navigation (its page links need it)."""

import pytest
from streamlit.testing.v1 import AppTest

import fer_core
from fer_core.model.classifier import DEFAULT_MODEL
from fer_core.reporting.evaluation import read_evaluation
from tests.conftest import ROOT


@pytest.mark.skipif(not (DEFAULT_MODEL / "evaluation.json").is_file(), reason="no shipped model evaluation")
def test_home_shows_the_version_beside_the_models_name_and_accuracy(monkeypatch):
    monkeypatch.delenv("FER_MODEL", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    accuracy = read_evaluation(DEFAULT_MODEL / "evaluation.json").accuracy
    expected = f"Version {fer_core.__version__} · model `{DEFAULT_MODEL.name}` · {accuracy:.1%} accuracy"
    assert [c.value for c in at.caption if c.value.startswith(expected)], [c.value for c in at.caption]
