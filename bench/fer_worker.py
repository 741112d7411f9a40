"""The `fer` package in its own virtualenv, driven from a bench through a pipe.

Run with the `fer` virtualenv's python (`python bench/fer_worker.py`), this file is the worker: it
reads one request a line on stdin, `detect <image path>` (fer's own pipeline: its Haar cascade, then
its network on each box grown by its default 10 px a side) or `whole <image path>` (the whole image
as the face, given to its network as it is: no border added, as the project's models get it), and
answers one JSON line: `{"ms": <milliseconds in detect_emotions>, "faces": [{"box": [x, y, w, h],
"emotions": {...}}]}`. Imported, it gives `FerPackage`, which starts and feeds the worker.
The `fer` package is never a dependency of this project: the benches skip it when it is absent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


class FerPackage:
    """The worker process: `FerPackage(python)` starts it under the `fer` virtualenv's `python`."""

    def __init__(self, python: str):
        self.process = subprocess.Popen(
            [python, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        ready = json.loads(self.process.stdout.readline() or "{}")
        if "ready" not in ready:
            raise RuntimeError(f"the fer worker did not start under {python}")
        self.version = ready["ready"]

    def run(self, mode: str, path: str | Path) -> dict:
        self.process.stdin.write(f"{mode} {path}\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def label(self, mode: str, path: str | Path) -> int:
        """The class index (EMOTIONS order) `fer` gives the largest face, or -1 when it finds none."""
        from fer_core.labels import EMOTIONS

        faces = self.run(mode, path)["faces"]
        if not faces:
            return -1
        emotions = max(faces, key=lambda face: face["box"][2] * face["box"][3])["emotions"]
        return EMOTIONS.index(max(emotions, key=emotions.get))

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)


def start(python: str | None) -> FerPackage | None:
    """The worker, or None with a line on stdout saying why the `fer` package is skipped."""
    if not python or not Path(python).exists():
        print(f"the fer package: skipped ({'no --fer-python given' if not python else python + ' not found'})")
        return None
    return FerPackage(python)


def _serve() -> None:
    import os
    import time

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    logging.disable(logging.WARNING)
    import cv2
    from fer.fer import FER

    detector = FER(mtcnn=False)
    # A given face crop as it is: fer's default 10 px border is a fifth of a 48 px FER2013 face on each side
    # (59% of a sample of test/ read right without it, 44% with it).
    as_given = FER(mtcnn=False, offsets=(0, 0))
    out, sys.stdout = sys.stdout, sys.stderr  # fer's own prints must not reach the pipe
    from importlib.metadata import version

    out.write(json.dumps({"ready": version("fer")}) + "\n")
    out.flush()
    for line in sys.stdin:
        mode, path = line.rstrip("\n").split(" ", 1)
        image = cv2.imread(path)
        boxes = [(0, 0, image.shape[1], image.shape[0])] if mode == "whole" else None
        started = time.perf_counter()
        found = (as_given if mode == "whole" else detector).detect_emotions(image, face_rectangles=boxes)
        took = 1000 * (time.perf_counter() - started)
        faces = [{"box": [int(v) for v in f["box"]], "emotions": f["emotions"]} for f in found]
        out.write(json.dumps({"ms": took, "faces": faces}) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve()
