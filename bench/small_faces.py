"""How well small faces are read: FER2013 test faces shrunk to the size of a small face in a photo,
then enlarged back to the models' 48 px by the app's preprocessing (bicubic) and, for comparison,
bilinearly.

    python bench/small_faces.py [--data ../shared/fer2013] [--faces 1000] [--sizes 20 24 28 32 40]

A face is shrunk by averaging pixel areas (as a camera's or a resize's downsampling does), and the
same randomly chosen faces (seed 0) are read at every size by both shipped models.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_core.datasets import load_split  # noqa: E402
from fer_core.model.classifier import DEFAULT_MODEL, LIVE_MODEL, Classifier  # noqa: E402
from fer_core.model.preprocess import ENLARGE, to_face_input  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "fer2013")
    parser.add_argument("--faces", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 24, 28, 32, 40])
    args = parser.parse_args()

    test = load_split(args.data, "test")
    chosen = np.random.default_rng(0).permutation(len(test.labels))[: args.faces]
    faces, labels = test.images[chosen], test.labels[chosen]
    print(f"{len(labels)} FER2013 test faces, accuracy by the face's size in the photo")
    print("| model | enlarged | " + " | ".join(f"{size} px" for size in args.sizes) + " | 48 px (as is) |")
    print("|---|---|" + "---:|" * (len(args.sizes) + 1))
    # Each size's faces, shrunk once and enlarged back both ways, read by both models.
    enlargements = {"bicubic (the app)": ENLARGE, "bilinear": cv2.INTER_LINEAR}
    shrunk = [[cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA) for face in faces] for size in args.sizes]
    batches = {
        name: [np.stack([to_face_input(face, enlarge) for face in small]) for small in shrunk]
        for name, enlarge in enlargements.items()
    }
    for path in (DEFAULT_MODEL, LIVE_MODEL):
        classifier = Classifier.load(path)
        as_is = _accuracy(classifier, faces, labels)
        for name, sized in batches.items():
            cells = " | ".join(f"{_accuracy(classifier, batch, labels):.1%}" for batch in sized)
            print(f"| {path.parent.name} | {name} | {cells} | {as_is:.1%} |")


def _accuracy(classifier: Classifier, faces: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(classifier.predict_batch(faces[..., None]).argmax(axis=1) == labels))


if __name__ == "__main__":
    main()
