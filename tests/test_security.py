"""Security and privacy: server settings, uploads kept in memory only, models loaded in safe mode,
and user bytes only ever reaching the image decoders this app means to use."""

import contextlib
import io
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from streamlit.testing.v1 import AppTest

from fer_core.media.images import ImageError, decode_image
from fer_core.model.classifier import Classifier, ModelError
from fer_core.model.preprocess import FACE_SIZE
from tests.conftest import ROOT


def test_streamlit_config_protects_users():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"  # no tracebacks or paths shown to visitors
    assert 0 < config["server"]["maxUploadSize"] <= 25  # megabytes


# ---- uploads are never written to disk ----

_events: list[tuple[str, str]] | None = None  # set to a list while a test watches
SPAWN_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork")


def _audit(event: str, args: tuple) -> None:
    """Record files opened for writing and processes started, while a test watches."""
    if _events is None:
        return
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & (os.O_WRONLY | os.O_RDWR))
        if writing:
            _events.append(("write", str(path)))
    elif event in SPAWN_EVENTS:
        _events.append(("spawn", repr(args)[:200]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one does nothing unless a test is watching


@contextlib.contextmanager
def watching():
    global _events
    _events = []
    try:
        yield _events
    finally:
        _events = None


def _photo_with_marker(astronaut_bgr: np.ndarray, marker: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", marker)
    buffer = io.BytesIO()
    Image.fromarray(astronaut_bgr[:, :, ::-1]).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def _files_changed_since(start: float, folders: list[Path]) -> list[Path]:
    changed = []
    for folder in folders:
        for dirpath, _, names in os.walk(folder):
            for name in names:
                path = Path(dirpath) / name
                try:
                    if path.stat().st_mtime >= start and path.is_file():
                        changed.append(path)
                except OSError:
                    continue
    return changed


def test_uploaded_photo_is_never_written_to_disk(astronaut_bgr):
    page = str(ROOT / "pages" / "photo.py")
    # A first upload loads the model and imports everything, which may write caches legitimately.
    warm = AppTest.from_file(page, default_timeout=120).run()
    warm.file_uploader[0].set_value(("warm.png", _photo_with_marker(astronaut_bgr, "warm-up"), "image/png")).run()
    assert warm.success

    marker = f"private-{uuid.uuid4()}"
    photo = _photo_with_marker(astronaut_bgr, marker)
    start = time.time() - 1
    at = AppTest.from_file(page, default_timeout=120).run()
    with watching() as events:
        with tempfile.TemporaryFile():  # the watch itself works: this write is seen
            pass
        assert any(kind == "write" for kind, _ in events)
        events.clear()
        at.file_uploader[0].set_value(("private.png", photo, "image/png")).run()
    assert at.success[0].value == "1 face found."  # the photo was analysed ...
    assert events == []  # ... without this process opening any file for writing or starting a process
    folders = [ROOT, Path(tempfile.gettempdir()), Path.home() / ".streamlit", Path.home() / ".cache"]
    leaked = [path for path in _files_changed_since(start, folders) if marker.encode() in _read(path)]
    assert leaked == []  # and no file written meanwhile (by anyone) holds the photo's bytes


def test_uploaded_video_is_never_written_to_disk():
    from tests.video_clips import face_clip

    clip = io.BytesIO()
    face_clip(clip, 320, 240, fps=10, seconds=1.0)
    page = str(ROOT / "pages" / "video.py")
    for run in ("warm-up", "watched"):  # the first run loads the model, which may write caches legitimately
        at = AppTest.from_file(page, default_timeout=120).run()
        at.file_uploader[0].set_value((f"{run}.mp4", clip.getvalue(), "video/mp4")).run()
        [start] = [b for b in at.button if b.label == "Analyse the video"]
        with watching() as events:
            start.click().run()
        assert not at.exception and not at.error and at.get("video")  # the clip was analysed ...
    assert events == []  # ... without this process opening any file for writing or starting a process


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes() if path.stat().st_size < 200_000_000 else b""
    except OSError:
        return b""


def test_decoding_works_from_bytes_in_memory():
    """The page hands the upload's bytes to analyse_photo, which hands them to decode_image; nothing in
    between takes a path. The video page hands the upload itself (an in-memory file) to PyAV."""
    page = (ROOT / "pages" / "photo.py").read_text()
    photos = (ROOT / "fer_core" / "media" / "photos.py").read_text()
    assert "analyse_photo(pipeline, upload.getvalue()," in page
    assert "decode_image(data)" in photos
    video_page = (ROOT / "pages" / "video.py").read_text()
    assert "probe(upload," in video_page and "analyze_video(pipeline, upload, output," in video_page
    assert "output = io.BytesIO()" in video_page
    for source in (page, photos, video_page):
        for risky in ("tempfile", "imwrite", "open(", ".save("):
            assert risky not in source


# ---- user bytes only reach the intended decoders ----


def test_postscript_is_refused_without_reaching_ghostscript():
    """Pillow would hand EPS to Ghostscript, a PostScript interpreter; decode_image only tries image formats."""
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n(hello) print\n"
    with watching() as events, pytest.raises(ImageError, match="not an image file of a known format"):
        decode_image(eps)
    assert events == []


# ---- models load in safe mode: no code from a model file runs ----


def _tiny_model(with_lambda: bool):
    import keras

    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1))
    x = keras.layers.Lambda(lambda t: t / 255.0)(inputs) if with_lambda else keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))


def test_model_with_a_lambda_layer_is_refused(tmp_path):
    """A Lambda layer is arbitrary Python (marshalled bytecode) inside the .keras file: safe_mode refuses it."""
    _tiny_model(with_lambda=False).save(tmp_path / "plain.keras")
    _tiny_model(with_lambda=True).save(tmp_path / "lambda.keras")
    assert Classifier.load(tmp_path / "plain.keras").predict_batch(np.zeros((1, 48, 48, 1), np.uint8)).shape == (1, 7)
    with pytest.raises(ModelError, match="lambda.keras cannot be loaded.*(safe_mode|Lambda)"):
        Classifier.load(tmp_path / "lambda.keras")
