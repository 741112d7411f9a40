"""Speed of the live frame processor on 640x480 frames with 0, 1 and 3 faces.

    python bench/bench_live.py [--frames 60] [--model path/to/model.keras]

Each frame is fully analysed (detection on the live page's downscaled copy, one batched CNN call,
tracking, drawing): the cost of a frame when the model is never skipped. Uses the shipped model
when present, else $FER_MODEL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from load import LoadMeter  # noqa: E402  (bench/load.py: this script's folder is first on sys.path)

from fer_core.media.live import FrameProcessor, LiveSettings  # noqa: E402
from fer_core.model.classifier import DEFAULT_MODEL  # noqa: E402
from fer_core.pipeline import EmotionPipeline  # noqa: E402
from fer_core.reporting.cards import hardware_description  # noqa: E402

WIDTH, HEIGHT = 640, 480


def scene(faces: int) -> np.ndarray:
    """`faces` copies of the astronaut's head (scikit-image's sample photo) on a grey ramp.

    (On a flat background the Haar detector misses a single face this small: its histogram
    equalisation then stretches the face's contrast oddly.)
    """
    from skimage import data

    head = cv2.resize(data.astronaut()[0:300, 100:350, ::-1], None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    h, w = head.shape[:2]
    frame = np.repeat(np.linspace(40, 200, WIDTH, dtype=np.uint8)[None, :, None], HEIGHT, axis=0).repeat(3, axis=2)
    for x, y in [(235, 180), (20, 80), (450, 80)][:faces]:
        frame[y : y + h, x : x + w] = head
    return frame


def measure(pipeline: EmotionPipeline, frame: np.ndarray, count: int) -> dict[str, float]:
    settings = LiveSettings()
    processor = FrameProcessor(pipeline, settings)
    frame_ms, detect_ms, classify_ms = [], [], []
    for i in range(count + 5):  # the first 5 warm up
        # one second between frames: every frame is analysed, none reuses the previous faces
        started = time.perf_counter()
        processor.process(frame, timestamp=float(i))
        frame_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        boxes = pipeline.detector.detect(frame, settings.detector_settings())
        detect_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        pipeline.classify_boxes(frame, boxes)
        classify_ms.append(1000 * (time.perf_counter() - started))
    assert processor.snapshot().stats.analyzed == count + 5
    frame_ms, detect_ms, classify_ms = frame_ms[5:], detect_ms[5:], classify_ms[5:]
    median = statistics.median(frame_ms)
    return {
        "median": median,
        "p90": float(np.percentile(frame_ms, 90)),
        "fps": 1000 / median,
        "detect": statistics.median(detect_ms),
        "classify": statistics.median(classify_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames timed per scene")
    shipped = DEFAULT_MODEL if DEFAULT_MODEL.exists() else os.environ.get("FER_MODEL")
    parser.add_argument("--model", default=shipped, help="default: the shipped model, else $FER_MODEL")
    args = parser.parse_args()
    if not args.model or not Path(args.model).exists():
        sys.exit(f"no model: {DEFAULT_MODEL} is missing; pass --model or set FER_MODEL")

    meter = LoadMeter()
    pipeline = EmotionPipeline.load(args.model)
    detector_settings = LiveSettings().detector_settings()
    rows = []
    for faces in (0, 1, 3):
        frame = scene(faces)
        found = len(pipeline.detector.detect(frame, detector_settings))
        if found != faces:
            sys.exit(f"the detector finds {found} faces in the {faces}-face scene; the benchmark would be wrong")
        rows.append((faces, measure(pipeline, frame, args.frames)))

    print(f"model: {args.model}")
    print(f"machine: {hardware_description()}")
    print(f"load: {meter.describe()}")
    side = detector_settings.max_side
    print(f"frames: {WIDTH}x{HEIGHT}, detection on a copy at most {side} px, {args.frames} timed per scene")
    print()
    print("| faces | ms/frame (median) | ms/frame (p90) | frames/s | detection ms | classification ms |")
    print("|------:|------------------:|---------------:|---------:|-------------:|------------------:|")
    for faces, r in rows:
        cells = [r["median"], r["p90"], r["fps"], r["detect"], r["classify"]]
        print(f"| {faces} | " + " | ".join(f"{cell:.1f}" for cell in cells) + " |")


if __name__ == "__main__":
    main()
