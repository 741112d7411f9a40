"""This pipeline against the `fer` package (Haar + mini-Xception), on the same frames in one run.

    python3 -m venv .venv-fer && .venv-fer/bin/pip install fer 'setuptools<70' 'opencv-python-headless<5'
    python bench/pipeline_vs_fer.py [--repeats 30] [--fer-python .venv-fer/bin/python]

The `fer` package lives in its own virtualenv (it pulls torch; it is never a dependency of this
project) and runs in a worker process that this script feeds frames to. Each frame is timed in
both, alternating: one call of `fer`'s `detect_emotions` (timed inside the worker), then one of
`EmotionPipeline.analyze` (timed here), for two set-ups of this pipeline:

- photo: what the photo page and `predict` run (the default model, faces from 5% of the shorter side);
- video: what the live page and video files run on a frame they search whole (the fast live model,
  `LiveSettings`' detector: faces from 15%, a coarser step between face sizes).

Frames: 640x480 with 0, 1 and 3 faces (bench.py's frames) and a 12 MP photo (4000x3000, one face).
Prints p50 and p95 ms of each, the faces each found, and the ratio of this pipeline's p50 to `fer`'s.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

WORKER = r"""
import os, pickle, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import logging; logging.disable(logging.WARNING)
from fer.fer import FER
detector = FER(mtcnn=False)
out = sys.stdout.buffer
sys.stdout = sys.stderr  # fer's prints must not reach the pipe
from importlib.metadata import version
out.write(f"ready {version('fer')}\n".encode()); out.flush()
while True:
    header = sys.stdin.buffer.readline()
    if not header:
        break
    frame = pickle.loads(sys.stdin.buffer.read(int(header)))
    started = time.perf_counter()
    found = detector.detect_emotions(frame)
    boxes = [tuple(int(v) for v in face["box"]) for face in found]
    data = pickle.dumps((1000 * (time.perf_counter() - started), boxes))
    out.write(str(len(data)).encode() + b"\n" + data); out.flush()
"""


class FerWorker:
    def __init__(self, python: str):
        self.process = subprocess.Popen(
            [python, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        ready = self.process.stdout.readline().split()
        if ready[:1] != [b"ready"]:
            raise RuntimeError("the fer worker did not start")
        self.version = ready[1].decode()  # the fer package's, for the figures' record

    def run(self, frame: np.ndarray) -> tuple[float, list[tuple[int, int, int, int]]]:
        """`fer`'s milliseconds for `frame` and the (x, y, w, h) boxes of the faces it found."""
        data = pickle.dumps(frame)
        self.process.stdin.write(str(len(data)).encode() + b"\n" + data)
        self.process.stdin.flush()
        size = int(self.process.stdout.readline())
        return pickle.loads(self.process.stdout.read(size))

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--fer-python", default=str(ROOT / ".venv-fer" / "bin" / "python"))
    args = parser.parse_args()
    if not Path(args.fer_python).exists():
        sys.exit(f"{args.fer_python} not found; install fer as this file's docstring says")

    from load import LoadMeter

    from bench import frame_with_faces
    from fer_core.media.live import LiveSettings
    from fer_core.model.classifier import DEFAULT_MODEL, fast_model
    from fer_core.pipeline import EmotionPipeline
    from fer_core.reporting.cards import hardware_description

    meter = LoadMeter()
    pipelines = {
        "photo": (EmotionPipeline.load(DEFAULT_MODEL), None),
        "video": (EmotionPipeline.load(fast_model()), LiveSettings().detector_settings()),
    }
    fer = FerWorker(args.fer_python)
    frames = [(f"640x480, {n} face(s)", frame_with_faces(n), args.repeats) for n in (0, 1, 3)]
    frames.append(("12 MP photo, 1 face", frame_with_faces(1, 4000, 3000), max(5, args.repeats // 3)))
    rows = []
    for name, frame, repeats in frames:
        ours: dict[str, list[float]] = {kind: [] for kind in pipelines}
        found: dict[str, int] = {}
        theirs = []
        for i in range(repeats + 2):  # the first two warm up
            fer_ms, fer_boxes = fer.run(frame)
            fer_found = len(fer_boxes)
            if i >= 2:
                theirs.append(fer_ms)
            for kind, (pipeline, settings) in pipelines.items():
                started = time.perf_counter()
                found[kind] = len(pipeline.analyze(frame, settings))
                if i >= 2:
                    ours[kind].append(1000 * (time.perf_counter() - started))
        rows.append((name, ours, theirs, found, fer_found))
    fer.close()

    print(f"machine: {hardware_description()}")
    print(f"load: {meter.describe()}")
    print(f"the fer package: {fer.version}")
    for kind in pipelines:
        print(f"\n{kind} pipeline")
        print("| frame | this p50 | this p95 | fer p50 | fer p95 | faces found (this / fer) | ratio p50 |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, ours, theirs, found, fer_found in rows:
            p50, p95 = np.percentile(ours[kind], 50), np.percentile(ours[kind], 95)
            f50, f95 = np.percentile(theirs, 50), np.percentile(theirs, 95)
            print(
                f"| {name} | {p50:.1f} | {p95:.1f} | {f50:.1f} | {f95:.1f} | {found[kind]} / {fer_found} "
                f"| {p50 / f50:.2f} |"
            )
        total = sum(np.median(r[1][kind]) for r in rows[:3]) / sum(np.median(r[2]) for r in rows[:3])
        print(f"ratio of p50 sums over the three 640x480 frames (this / fer): {total:.2f}")


if __name__ == "__main__":
    main()
