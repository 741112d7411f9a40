"""The shipped models side by side: parameters, ms for one face and for three, ms per face in batches of 64.

    python bench/bench_models.py [--repeats 200] [--data ../shared/fer2013]

Each model is timed through the app's own `Classifier` (one call per batch), alternating between the
models so that a change in the machine's load touches all alike. The photo model and the live model
run as the app runs them (on a CPU, the photo model's members from their 8-bit copies,
`fer_core/model/int8_net.py`, the live model from its OpenCV copy, `opencv_net.py`; each row names its
engine); the live model is timed in TensorFlow too. The faces are FER2013 `test/` faces when `--data` has them
(the default looks in ../shared/fer2013), taken in turn, one call's faces after another's: the photo
model reads its members in turn until a face is sure, so its time depends on the faces. Without them,
random pixels, on which it is never sure: every member reads every face, its slowest.
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

from fer_core.datasets import load_split  # noqa: E402
from fer_core.model.classifier import DEFAULT_MODEL, Classifier  # noqa: E402
from fer_core.paths import shown_path  # noqa: E402
from fer_core.reporting.cards import hardware_description  # noqa: E402
from fer_core.resources import LIVE_MODEL  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "fer2013", help="FER2013 folder")
    args = parser.parse_args()

    meter = LoadMeter()
    photo, live = Classifier.load(DEFAULT_MODEL), Classifier.load(LIVE_MODEL)
    models = {
        f"fer_vgg (photo), {photo.engine}": photo,
        f"fer_live (live), {live.engine}": live,
        "fer_live (live), tensorflow": Classifier.load(LIVE_MODEL, engine="tensorflow"),
    }
    rng = np.random.default_rng(0)
    if (args.data / "test").is_dir():
        faces = load_split(args.data, "test").images[..., None]
        faces, what = faces[rng.permutation(len(faces))], f"FER2013 test/ faces ({shown_path(args.data)})"
    else:
        faces, what = rng.integers(0, 256, (64 * 4, 48, 48, 1), np.uint8), "random pixels (no FER2013 given)"
    batch = faces[:64]
    single = {name: [] for name in models}
    triple = {name: [] for name in models}
    batched = {name: [] for name in models}
    for _ in range(5):  # warm-up
        for classifier in models.values():
            classifier.predict_batch(batch)
    for i in range(args.repeats):
        one, three = faces[i % len(faces)][None], faces[np.arange(3 * i, 3 * i + 3) % len(faces)]
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
    print(f"Faces: {what}")
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
