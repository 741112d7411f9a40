"""Hostile and broken uploads (tests/hostile_corpus.py) through the CLI and the photo page.

Each case gets a clear message or a correct result: no traceback, no hang (every run has a
timeout), and bounded memory for the PNG bomb and the image at the 100-megapixel limit.
With the shipped model (FER_MODEL unset) the astronaut's face must also read 'happy'.
"""

import os
import sys

import pytest

from fer_core.images import MAX_PIXELS
from tests import hostile_corpus as hc

CASES = hc.corpus()
REAL_MODEL = not os.environ.get("FER_MODEL")


def test_corpus_is_what_it_says():
    bomb = CASES["PNG bomb 30000x30000"].data
    assert len(bomb) < 300_000  # small on disk ...
    assert int.from_bytes(bomb[16:20], "big") * int.from_bytes(bomb[20:24], "big") == 900_000_000  # ... huge decoded
    assert len(CASES["JPEG with 60 KB EXIF"].data) - len(CASES["grayscale JPEG"].data) > 60_000
    assert sum(case.error is not None for case in CASES.values()) >= 8
    assert all((case.faces is None) != (case.error is None) for case in CASES.values())


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """One `predict --json` run over the whole corpus: (outcomes, process result, peak RSS in MB)."""
    return hc.cli_outcomes(CASES, tmp_path_factory.mktemp("corpus"), timeout=300)


def test_cli_prints_one_line_per_unreadable_file_and_no_traceback(cli):
    _, run, peak_mb = cli
    print(f"CLI over {len(CASES)} files: exit {run.returncode}, peak RSS {peak_mb:.0f} MB")
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert all(line.startswith("error: ") for line in lines), lines
    assert len(lines) == sum(case.error is not None for case in CASES.values())
    assert run.returncode == 1  # some files could not be read
    assert peak_mb < hc.BOMB_RSS_LIMIT_MB  # the 100 MP image at the limit is decoded in this run


@pytest.mark.parametrize("name", CASES)
def test_cli_result(cli, name):
    case, outcome = CASES[name], cli[0][name]
    assert outcome.meets(case), f"{name}: expected {case.expected}, got {outcome}"
    if REAL_MODEL and case.faces == 1:
        assert outcome.labels == ("happy",)


def test_cli_memory_on_the_png_bomb(tmp_path):
    path = hc.write_files({"bomb": CASES["PNG bomb 30000x30000"]}, tmp_path)["bomb"]
    command = [sys.executable, "-m", "fer_core", "predict", str(path), *hc.model_args()]
    run, peak_mb = hc.run_measured(command, tmp_path, timeout=180)
    print(f"30000x30000 PNG bomb: peak RSS {peak_mb:.0f} MB (bound {hc.BOMB_RSS_LIMIT_MB} MB)")
    assert run.returncode == 1
    limit = f"at most {MAX_PIXELS // 1_000_000} megapixels are accepted"
    assert run.stderr == f"error: {path}: the image is too large to decode safely; {limit}\n"
    assert peak_mb < hc.BOMB_RSS_LIMIT_MB


@pytest.mark.parametrize("name", CASES)
def test_photo_page_result(name):
    case = CASES[name]
    outcome = hc.page_outcome(case)
    assert outcome.meets(case), f"{name}: expected {case.expected}, got {outcome}"
    if case.error is not None:
        assert outcome.error.startswith(f"Cannot read **{case.filename}**: ")
    if REAL_MODEL and case.faces == 1:
        assert outcome.labels == ("happy",)
