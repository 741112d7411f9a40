"""BlazeFace's network alone in the two runtimes that can read it: LiteRT (what the photo search runs) and
OpenCV's DNN module (what it ran before ba8f6ad), ms per input size, median over the rounds.

    python bench/blazeface_runtimes.py [--repeats 30]

The sizes are the views the photo search shows it: the close-up view, a 640x480 frame's two views and a
1024x768 photo's 512 px view. The input is random; the network's time does not depend on what it sees.
Last, the largest difference between the two runtimes' outputs on the docs' astronaut photo, each size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load import LoadMeter  # noqa: E402  bench/load.py: this script's folder is first on sys.path

from fer_core.faces.blazeface import BLAZEFACE_PATH, BlazeFace  # noqa: E402
from fer_core.faces.detection import _Pyramid  # noqa: E402
from fer_core.model.litert import THREADS  # noqa: E402


def _view_size(width: int, height: int, side: int) -> tuple[int, int]:
    """(height, width) of the photo search's whole-image view of that side for an image of that size."""
    return _Pyramid(np.zeros((height, width, 3), np.uint8)).whole(side).shape[:2]


SIZES = [(128, 128, "close-up view"), (*_view_size(640, 480, 128), "640x480: 128 px view")]
SIZES += [(*_view_size(640, 480, 256), "640x480: 256 px view"), (*_view_size(1024, 768, 512), "1024x768: 512 px view")]


def opencv_runner(height: int, width: int):
    """BlazeFace in OpenCV's DNN module, set up for inputs of this size: (1, H, W, 3) RGB in [-1, 1] -> outputs."""
    net = cv2.dnn.readNetFromTFLite(str(BLAZEFACE_PATH))
    names = net.getUnconnectedOutLayersNames()

    def run(rgb: np.ndarray) -> list[np.ndarray]:
        net.setInput(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)))
        return list(net.forward(names))

    run(np.zeros((1, height, width, 3), np.float32))
    return run


def litert_runner(blazeface: BlazeFace, height: int, width: int):
    """The photo search's own LiteRT interpreter for this size, the same way round."""
    interpreter = blazeface.nets.for_shape((1, height, width, 3))
    index = interpreter.get_input_details()[0]["index"]

    def run(rgb: np.ndarray) -> list[np.ndarray]:
        interpreter.set_tensor(index, rgb)
        interpreter.invoke()
        return [interpreter.get_tensor(output["index"]) for output in interpreter.get_output_details()]

    run(np.zeros((1, height, width, 3), np.float32))
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    meter = LoadMeter()
    blazeface = BlazeFace()
    rng = np.random.default_rng(0)
    photo = cv2.imread(str(ROOT / "docs" / "astronaut.jpg"))
    differences = []
    print(f"LiteRT with {THREADS} threads, OpenCV {cv2.__version__} with {cv2.getNumThreads()} threads\n")
    print("| input (height x width) | view | cv2.dnn ms | LiteRT ms | ratio |")
    print("|---|---|---:|---:|---:|")
    for height, width, view in SIZES:
        runners = [opencv_runner(height, width), litert_runner(blazeface, height, width)]
        noise = rng.uniform(-1, 1, (1, height, width, 3)).astype(np.float32)
        times = [[], []]
        for _ in range(args.repeats):
            for run, taken in zip(runners, times):  # in turns, so that a change in load touches both
                start = time.perf_counter()
                run(noise)
                taken.append(1000 * (time.perf_counter() - start))
        opencv, litert = (float(np.median(taken)) for taken in times)
        print(f"| {height} x {width} | {view} | {opencv:.1f} | {litert:.1f} | {opencv / litert:.1f} |")
        rgb = cv2.cvtColor(cv2.resize(photo, (width, height)), cv2.COLOR_BGR2RGB)[None].astype(np.float32) / 127.5 - 1
        both = [sorted(run(rgb), key=np.size) for run in runners]  # the logits first, then boxes and keypoints
        differences.append(max(float(np.abs(a.ravel() - b.ravel()).max()) for a, b in zip(*both)))
    print(f"\nlargest difference of the runtimes' outputs (logits, pixels) on the astronaut: {max(differences):.2g}")
    print(meter.describe())


if __name__ == "__main__":
    main()
