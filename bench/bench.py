"""Speed of the app on this machine: `python bench/bench.py` prints a table and writes bench/latest.md.

Figures: cold start (import + model load, server start, first render of the home page in
headless Chromium), the classifier (one face; faces per second in batches of 64), the
pipeline on 640x480 frames with 0, 1 and 3 faces, and a 12 MP photo end to end.
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load import LoadMeter  # noqa: E402  (bench/load.py: this script's folder is first on sys.path)


def machine() -> str:
    import tensorflow as tf

    from fer_core.reporting.cards import hardware_description

    return f"{hardware_description()}, TensorFlow {tf.__version__}"


def model_description() -> str:
    """The model measured, and the commit it was shipped in: figures change with the model."""
    from fer_core.model.classifier import DEFAULT_MODEL
    from fer_core.paths import shown_path

    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    commit = run.stdout.strip() or "unknown"
    return f"{shown_path(DEFAULT_MODEL)} at commit {commit}"


def timed(fn, repeats: int, warmup: int = 3) -> float:
    """Median milliseconds of `fn()`."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def frame_with_faces(n: int, width: int = 640, height: int = 480) -> np.ndarray:
    """A width x height frame holding `n` copies of scikit-image's astronaut face on a plain wall."""
    import cv2
    from skimage import data

    face = np.ascontiguousarray(data.astronaut()[30:250, 120:330, ::-1])
    frame = np.full((height, width, 3), (170, 180, 190), np.uint8)
    if n == 0:
        return frame
    side = min(height - 40, (width - 20) // n - 10, max(300, height // 3))  # a face fills a third of a photo
    face = cv2.resize(face, (side, side))
    for i in range(n):
        x = 10 + i * (width - 20) // n
        frame[(height - side) // 2 : (height + side) // 2, x : x + side] = face
    return frame


def cold_start() -> dict[str, float]:
    script = (
        "import time; t=time.perf_counter(); import fer_core.pipeline as p; "
        "pl=p.EmotionPipeline.load(); import numpy as np; pl.classifier.predict_batch(np.zeros((1,48,48,1),np.uint8)); "
        "print(time.perf_counter()-t)"
    )
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return {
        "import + model load + first call (s)": float(run.stdout.strip().splitlines()[-1]),
        "whole process (s)": time.perf_counter() - start,
    }


def first_render() -> dict[str, float]:
    """Seconds from `streamlit run app.py` to a healthy server, and to the home page's title in Chromium."""
    if not Path("/usr/bin/chromium").exists():
        return {}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.1)
            if time.perf_counter() - start > 60:
                return {}
        healthy = time.perf_counter() - start
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            opened = time.perf_counter()
            page.goto(f"http://localhost:{port}/")
            page.get_by_text("Test accuracy").first.wait_for(timeout=60_000)
            rendered = time.perf_counter()
            browser.close()
        return {"server start to healthy (s)": healthy, "home page first render in Chromium (s)": rendered - opened}
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "latest.md")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium first-render figure")
    args = parser.parse_args()

    from PIL import Image

    from fer_core.media.images import decode_image
    from fer_core.pipeline import EmotionPipeline

    meter = LoadMeter()
    rows: list[tuple[str, str]] = []
    for name, value in cold_start().items():
        rows.append((f"cold start: {name}", f"{value:.2f}"))
    if not args.no_browser:
        for name, value in first_render().items():
            rows.append((f"cold start: {name}", f"{value:.2f}"))

    pipeline = EmotionPipeline.load()
    classifier = pipeline.classifier
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, (1, 48, 48, 1), np.uint8)
    batch = rng.integers(0, 256, (64, 48, 48, 1), np.uint8)
    rows.append(("classifier: one face (ms)", f"{timed(lambda: classifier.predict_batch(one), args.repeats * 4):.2f}"))
    batch_ms = timed(lambda: classifier.predict_batch(batch), args.repeats)
    rows.append(("classifier: batch of 64 (ms)", f"{batch_ms:.1f}"))
    rows.append(("classifier: faces per second, batches of 64", f"{64 / batch_ms * 1000:.0f}"))

    for n in (0, 1, 3):
        frame = frame_with_faces(n)
        found = len(pipeline.analyze(frame))
        ms = timed(lambda frame=frame: pipeline.analyze(frame), args.repeats)
        rows.append((f"pipeline: 640x480 frame, {n} face(s) (ms; {found} found)", f"{ms:.1f}"))

    photo = Image.fromarray(np.ascontiguousarray(frame_with_faces(1, 4000, 3000)[:, :, ::-1]))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=90)
    jpeg = buffer.getvalue()
    found = len(pipeline.analyze(decode_image(jpeg)))
    ms = timed(lambda: pipeline.analyze(decode_image(jpeg)), max(5, args.repeats // 5), warmup=1)
    rows.append((f"12 MP JPEG photo: decode + detect + classify (ms; {found} found)", f"{ms:.0f}"))

    width = max(len(name) for name, _ in rows)
    lines = [f"Machine: {machine()}", f"Load: {meter.describe()}", f"Model: {model_description()}", ""]
    lines += [f"| {'measure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|------:|"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
