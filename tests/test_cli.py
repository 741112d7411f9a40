import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core.cli import main
from tests.conftest import ROOT


@pytest.fixture
def photo(tmp_path, astronaut_bgr):
    path = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(path), astronaut_bgr)
    return path


def test_predict_json_shape(photo, capsys):
    assert main(["predict", str(photo), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert len(results) == 1 and results[0]["image"] == str(photo)
    face = results[0]["faces"][0]
    assert set(face) == {"box", "label", "confidence", "unsure", "runner_up", "probabilities"}
    assert face["unsure"] is False  # the astronaut smiles plainly
    assert set(face["box"]) == {"x", "y", "width", "height"}
    assert face["label"] == "happy"
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_predict_text_output(photo, capsys):
    assert main(["predict", str(photo)]) == 0
    assert "1 face(s)" in capsys.readouterr().out


def test_evaluate_json_with_detection(tmp_path, astronaut_bgr, capsys):
    (tmp_path / "data" / "happy").mkdir(parents=True)
    (tmp_path / "data" / "neutral").mkdir()
    cv2.imwrite(str(tmp_path / "data" / "happy" / "a.png"), astronaut_bgr)
    cv2.imwrite(str(tmp_path / "data" / "neutral" / "blank.png"), np.full((200, 200, 3), 90, np.uint8))
    assert main(["evaluate", "--data", str(tmp_path / "data"), "--json", "--write", str(tmp_path / "e.json")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"n", "accuracy", "macro_f1", "per_class", "confusion_matrix", "labels", "detection_rate"} <= set(result)
    assert result["n"] == 2 and result["detection_rate"] == 0.5
    assert result["accuracy"] == 0.5  # the astronaut is right; the blank has no face and counts as wrong
    assert json.loads((tmp_path / "e.json").read_text()) == result


def test_evaluate_crops_has_no_detection_rate(tmp_path, astronaut_bgr, capsys):
    (tmp_path / "happy").mkdir()
    cv2.imwrite(str(tmp_path / "happy" / "face.png"), cv2.cvtColor(astronaut_bgr[60:170, 170:280], cv2.COLOR_BGR2GRAY))
    assert main(["evaluate", "--data", str(tmp_path), "--crops", "--json"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert "detection_rate" not in result and result["n"] == 1
    # stderr is not a terminal here: the progress is plain lines, as a redirected log keeps them
    assert err.splitlines()[-1] == "1/1 images" and "\x1b" not in err and "\r" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "missing.jpg"], "no such file"),
        (["predict", "README.md"], "not an image"),
        (["evaluate", "--data", "missing-dir"], "not a folder"),
        (["predict", "docs/astronaut.jpg", "--model", "missing.keras"], "model file missing.keras not found"),
    ],
)
def test_bad_input_is_one_line_on_stderr(args, message):
    run = subprocess.run(
        [sys.executable, "-m", "fer_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0 and message in run.stderr


# Runs the command line in a fresh interpreter and prints which heavy modules it imported.
IMPORTED = (
    "import sys; from fer_core.cli import main; status = main(sys.argv[1:]); "
    "print(sorted(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules)); sys.exit(status)"
)


@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "README.md"], "README.md: not an image file"),
        (["predict", "docs/astronaut.jpg", "missing.jpg", "docs"], "missing.jpg: no such file"),
        (["evaluate", "--data", "missing-dir"], "missing-dir is not a folder"),
        (["evaluate"], "nowhere/test is not a folder"),  # the default: $FER_DATA/test
    ],
)
def test_bad_input_is_refused_before_tensorflow_or_the_model_loads(tmp_path, args, message):
    env = {**os.environ, "FER_DATA": str(tmp_path / "nowhere"), "FER_MODEL": str(tmp_path / "no-model.keras")}
    if "docs/astronaut.jpg" in args:  # one good photo among bad inputs: only the good one reaches the model
        env.pop("FER_MODEL")
        args = [*args, "--model", str(tmp_path / "no-model.keras")]
    run = subprocess.run(
        [sys.executable, "-c", IMPORTED, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1 and message in run.stderr and "Traceback" not in run.stderr
    if "docs/astronaut.jpg" in args:  # the two bad inputs are reported first, then the missing model
        assert run.stderr.splitlines()[:2] == ["error: missing.jpg: no such file", "error: docs: not a file"]
        assert "no-model.keras not found" in run.stderr.splitlines()[2]
    else:
        assert run.stdout.strip() == "[]", "TensorFlow was imported before the input was checked"


def test_every_commands_help_shows_its_defaults_and_an_example():
    import argparse

    from fer_core.cli import EXAMPLES, build_parser
    from fer_core.paths import shown_path

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) == set(EXAMPLES)
    for name, command in commands.items():
        text = " ".join(command.format_help().split())  # unwrapped
        assert f"example: python -m fer_core {name} " in text
        for action in command._actions:
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                default = shown_path(action.default) if isinstance(action.default, Path) else action.default
                assert f"(default: {default})" in text, (name, action.dest)
    assert str(ROOT) not in commands["predict"].format_help()  # the default model is named relative to the project


def test_the_predict_example_runs_as_written(monkeypatch, capsys):
    from fer_core.cli import EXAMPLES

    monkeypatch.chdir(ROOT)
    argv = EXAMPLES["predict"].split()[3:]
    assert main(argv) == 0, argv
    assert json.loads(capsys.readouterr().out)[0]["faces"][0]["label"] == "happy"


def test_version_is_written_once_and_printed():
    import fer_core

    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads TOML itself")

    run = subprocess.run([sys.executable, "-m", "fer_core", "--version"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout == f"fer_core {fer_core.__version__}\n"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fer_core.__version__"}


def test_real_photo_paths_re_point_only_the_stages_that_read_real_photos():
    from fer_core.cli import build_parser, recipe_stages

    args = build_parser().parse_args(
        ["train", "--config", "models/fer_live/recipe.json", "--data", "x", "--real-photos", "/data/wild-dev"]
    )
    stages = recipe_stages(args)  # the shipped live model: two FER2013 stages, then one with real photos
    assert [stage.real_photos for stage in stages] == [None, None, "/data/wild-dev"]
    assert stages[2].real_photos_list == "models/fer_live/wild_dev_train.txt"
    plain = recipe_stages(build_parser().parse_args(["train", "--data", "x", "--real-photos", "/data/wild-dev"]))
    assert [stage.real_photos for stage in plain] == ["/data/wild-dev"]


def test_predict_writes_its_result_and_nothing_else():
    # Nothing on stderr: no runtime's start-up lines (TensorFlow's, LiteRT's "Created TensorFlow Lite XNNPACK
    # delegate for CPU") between the user and the result.
    run = subprocess.run(
        [sys.executable, "-m", "fer_core", "predict", "docs/astronaut.jpg"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0 and run.stderr == ""
    assert run.stdout.startswith("docs/astronaut.jpg: 1 face(s)\n") and "happy" in run.stdout
