"""Faults: a missing or damaged model file, and training killed in the middle of a run.

The app must start and say what is wrong and how to fix it; the CLI exits non-zero with one
line; a killed training run started again resumes from its last checkpoint and loses at most
the epoch it was in.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from streamlit.testing.v1 import AppTest

from fer_core.model.classifier import LIVE_MODEL
from fer_core.paths import shown_path
from tests.conftest import ROOT

PAGE = str(ROOT / "pages" / "photo.py")
SOURCE_MODEL = Path(os.environ.get("FER_MODEL") or LIVE_MODEL)  # a network file, to damage


def _damaged_models(folder: Path) -> dict[str, Path]:
    """Ways a model file gets damaged: cut short by a failed copy, bytes overwritten, not a model at all."""
    if not SOURCE_MODEL.is_file():
        pytest.skip(f"no model at {SOURCE_MODEL} to damage")
    good = SOURCE_MODEL.read_bytes()
    overwritten = bytearray(good)
    overwritten[len(good) // 2 : len(good) // 2 + 1000] = bytes(1000)
    files = {
        "truncated": good[: len(good) // 3],
        "overwritten": bytes(overwritten),
        "text": b"version https://git-lfs\n",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.keras"
        paths[name].write_bytes(data)
    return paths


@pytest.fixture
def photo_jpeg(astronaut_bgr) -> bytes:
    return cv2.imencode(".jpg", astronaut_bgr)[1].tobytes()


def _upload_with_model(monkeypatch, model: Path, photo_jpeg: bytes) -> AppTest:
    monkeypatch.setenv("FER_MODEL", str(model))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception and not at.error  # before an upload the page does not need the model
    return at.file_uploader[0].set_value(("astronaut.jpg", photo_jpeg, "image/jpeg")).run()


def _assert_says_what_and_how_to_fix(at: AppTest, model: Path, problem: str) -> None:
    assert not at.exception
    assert len(at.error) == 1 and not at.success  # the page stopped after the message
    message = at.error[0].value
    assert shown_path(model) in message and problem in message and str(model) not in message
    assert "Fix:" in message and "FER_MODEL" in message and "python -m fer_core train" in message


def test_photo_page_with_a_missing_model_says_so(monkeypatch, tmp_path, photo_jpeg):
    model = tmp_path / "no_such_model.keras"
    at = _upload_with_model(monkeypatch, model, photo_jpeg)
    _assert_says_what_and_how_to_fix(at, model, "not found")


@pytest.mark.parametrize("damage", ["truncated", "overwritten", "text"])
def test_photo_page_with_a_damaged_model_says_so(monkeypatch, tmp_path, photo_jpeg, damage):
    model = _damaged_models(tmp_path)[damage]
    at = _upload_with_model(monkeypatch, model, photo_jpeg)
    _assert_says_what_and_how_to_fix(at, model, "cannot be loaded")


def test_app_starts_without_a_model(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_MODEL", str(tmp_path / "no_such_model.keras"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == "Facial emotion recognition"


def _predict(model: Path, image: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "fer_core", "predict", str(image), "--model", str(model)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)


def test_cli_with_missing_or_damaged_model_prints_one_line(tmp_path, astronaut_bgr):
    image = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(image), astronaut_bgr)
    cases = {tmp_path / "no_such_model.keras": "not found"}
    cases.update({path: "cannot be loaded" for path in _damaged_models(tmp_path).values()})
    for model, problem in cases.items():
        run = _predict(model, image)
        assert run.returncode == 1, run.stderr
        assert run.stdout == "" and "Traceback" not in run.stderr
        assert run.stderr.count("\n") == 1 and run.stderr.startswith(f"error: model file {shown_path(model)} {problem}")


# ---- training killed mid-run ----


def _train_command(data: Path, tmp_path: Path, epochs: int) -> list[str]:
    return [
        sys.executable, "-m", "fer_core", "train", "--data", str(data), "--out", str(tmp_path / "model"),
        "--work-dir", str(tmp_path / "work"), "--epochs", str(epochs), "--batch-size", "8",
        "--steps-per-epoch", "4", "--patience", "100",
    ]  # fmt: skip


def _read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # not there yet, or being written
        return {}


def test_training_killed_mid_run_resumes_from_its_last_checkpoint(tiny_fer, tmp_path):
    epochs = 5
    command = _train_command(tiny_fer, tmp_path, epochs)
    state_file = tmp_path / "work" / "stage_1" / "state.json"
    log = (tmp_path / "first_run.log").open("w")
    first = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while _read_state(state_file).get("epoch", 0) < 1:
            assert first.poll() is None, (tmp_path / "first_run.log").read_text()
            assert time.monotonic() < deadline, "no epoch finished in 300 s"
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)  # no chance to clean up: like a power cut or the OOM killer
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        log.close()
    assert first.returncode == -signal.SIGKILL
    state = json.loads(state_file.read_text())  # the state file is intact after the kill
    killed_at = state["epoch"]
    assert 1 <= killed_at < epochs

    second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    print(f"killed after epoch {killed_at}; the second run printed:\n{second.stdout}")
    assert f"resuming from epoch {killed_at} " in second.stdout + second.stderr
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    assert [record["epoch"] for record in history] == list(range(1, epochs + 1))  # every epoch exactly once
    assert json.loads(state_file.read_text())["epoch"] == epochs
    assert (tmp_path / "model" / "model.keras").is_file()
