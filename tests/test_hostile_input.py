"""Hostile and broken uploads (tests/hostile_corpus.py) through the CLI and the photo page.

Each case gets a clear message or a correct result: no traceback, no hang (every run has a
timeout), and bounded memory for the PNG bomb and the image at the 100-megapixel limit.
With the shipped model (FER_MODEL unset) the astronaut's face must also read 'happy'.
"""

import io
import os
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from fer_core.media import images
from fer_core.media.images import MAX_PIXELS, decode_image
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


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.faces == 1])
def test_readable_variants_decode_to_the_original_picture(name):
    """Right colours, not merely a face: an inverted CMYK or a mis-scaled 16-bit image fails here."""
    rgb = hc.astronaut_rgb()
    if "gray" in name:
        rgb = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    decoded = decode_image(CASES[name].data)
    assert decoded.shape == rgb.shape
    difference = np.abs(decoded[40:].astype(int) - rgb[40:, :, ::-1])  # rows 0-39 are transparent in the RGBA case
    assert difference.mean() < 4  # palette quantisation and JPEG cost 1.4-2.7 levels on average
    if name == "RGBA PNG":
        assert (decoded[:40] == 255).all()  # transparent means white


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
    assert peak_mb < hc.CLI_RSS_LIMIT_MB  # the 100 MP image at the limit is decoded in this run


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
    print(f"30000x30000 PNG bomb: peak RSS {peak_mb:.0f} MB (bound {hc.CLI_RSS_LIMIT_MB} MB)")
    assert run.returncode == 1
    limit = f"at most {MAX_PIXELS // 1_000_000} megapixels are accepted"
    assert run.stderr == f"error: {path}: the image is too large to decode safely; {limit}\n"
    assert peak_mb < hc.CLI_RSS_LIMIT_MB


@pytest.mark.parametrize("name", CASES)
def test_photo_page_result(name):
    case = CASES[name]
    outcome = hc.page_outcome(case)
    assert outcome.meets(case), f"{name}: expected {case.expected}, got {outcome}"
    if case.error is not None:
        assert outcome.error.startswith(f"Cannot read **{case.filename}**: ")
    if REAL_MODEL and case.faces == 1:
        assert outcome.labels == ("happy",)


def _most_at_once(monkeypatch, data: bytes, sessions: int = 6) -> int:
    """How many decodes of `data` run at the same moment when `sessions` threads decode it together."""
    active, most, lock = 0, 0, threading.Lock()
    small_rgb = images._small_rgb

    def slow_small_rgb(image, max_side):
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.3)
        with lock:
            active -= 1
        return small_rgb(image, max_side)

    monkeypatch.setattr(images, "_small_rgb", slow_small_rgb)
    threads = [threading.Thread(target=decode_image, args=(data,)) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return most


def test_at_most_two_large_images_decode_at_once(monkeypatch):
    """Many sessions uploading 100 MP images together: memory for two decodes, not for all of them
    (four 10000x10000 16-bit PNGs at once peaked at 2.1 GB without the limit, 1.1 GB with it)."""
    monkeypatch.setattr(images, "LARGE_PIXELS", 50_000)
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buffer, format="PNG")
    assert _most_at_once(monkeypatch, buffer.getvalue()) == 2  # 60,000 pixels: large
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200)).save(buffer, format="PNG")
    assert _most_at_once(monkeypatch, buffer.getvalue()) == 6  # 40,000 pixels: not held back
