"""The shipped models side by side: parameters, ms for one face and for three, ms per face in batches of 64.

    python bench/bench_models.py [--repeats 200]

Each model is timed through the app's own `Classifier` (one call per batch), alternating between the
models so that a change in the machine's load touches all alike. The live model is timed twice: run by
OpenCV (`fer_core/model/opencv_net.py`, what the app does on a CPU) and by TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load import LoadMeter  # noqa: E402  bench/load.py: this script's folder is first on sys.path

from fer_core.model.classifier import DEFAULT_MODEL, Classifier  # noqa: E402
from fer_core.reporting.cards import hardware_description  # noqa: E402
from fer_core.resources import LIVE_MODEL  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    meter = LoadMeter()
    models = {
        "fer_vgg (photo)": Classifier.load(DEFAULT_MODEL),
        "fer_live (live), OpenCV": Classifier.load(LIVE_MODEL),
        "fer_live (live), TensorFlow": Classifier.load(LIVE_MODEL, engine="tensorflow"),
    }
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (64, 48, 48, 1), np.uint8)
    one, three = batch[:1], batch[:3]
    single = {name: [] for name in models}
    triple = {name: [] for name in models}
    batched = {name: [] for name in models}
    for _ in range(5):  # warm-up
        for classifier in models.values():
            classifier.predict_batch(batch)
    for i in range(args.repeats):
        for name, classifier in models.items():
            start = time.perf_counter()
            classifier.predict_batch(one)
            single[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            classifier.predict_batch(three)
            triple[name].append(time.perf_counter() - start)
            if i % 10 == 0:
                start = time.perf_counter()
                classifier.predict_batch(batch)
                batched[name].append((time.perf_counter() - start) / len(batch))

    print(f"Machine: {hardware_description()}; {meter.describe()}")
    print(
        "| model | parameters | one face, ms (p50) | one face, ms (p95) | three faces, ms (p50) "
        "| per face in batches of 64, ms (p50) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, classifier in models.items():
        ms = 1000 * np.array(single[name])
        print(
            f"| {name} | {classifier.model.count_params():,} | {np.percentile(ms, 50):.2f} | "
            f"{np.percentile(ms, 95):.2f} | {1000 * np.median(triple[name]):.2f} | "
            f"{1000 * np.median(batched[name]):.2f} |"
        )


if __name__ == "__main__":
    main()
