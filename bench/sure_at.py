"""Choose how sure a face must be before a photo ensemble's later members stop reading it (`sure_at`).

    python bench/sure_at.py --model models/fer_vgg --data ../shared/fer2013 \
        [--subset models/fer_live/wild_dev_heldout.txt]

Every member of the ensemble reads, in the manifest's views, FER2013 `test/` and wild-dev's photos (with
`--subset`, only those it lists: photos no member trained on): the largest face the photo search finds in
each, cropped as the app crops it (a photo with no face is left out). The classifier's own reading
(`fer_core.model.classifier.SureFirst`) is then replayed on those stored probabilities for each threshold:
the members in the manifest's order, each face read until the mean so far is that sure. Printed for
each: accuracy on FER2013 `test/` and on the wild-dev photos, and the members read per face (the cost:
1 is the first member alone, the number of members is all of them).

The members read as the app reads them on this machine (their 8-bit copies on a CPU, `int8_net`; the engine
is printed on stderr). The threshold chosen is the lowest whose FER2013 `test/` accuracy stays within 0.1
points of every member reading every face and at the photo model's floor of 71% (`tests/test_classifier.py`;
where every member reading falls under it, that accuracy is the floor). The wild-dev photos are only
reported: some members trained on wild-dev's other photos, and so many are too few to choose by.
`python -m fer_core ensemble ... --sure-at X` writes it into the manifest (`ensemble.json`, where
`Classifier.load` reads it) and scores the ensemble as it then reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from real_faces import progress, wild_items  # noqa: E402

from fer_core.paths import shown_path  # noqa: E402

THRESHOLDS = (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9)
TOLERANCE = 0.001  # 0.1 points of accuracy
FLOOR = 0.71  # the photo model's FER2013 test/ accuracy that tests/test_classifier.py holds it to


def main() -> None:
    args = _arguments()
    from fer_core.datasets import load_split
    from fer_core.faces.detection import FaceDetector
    from fer_core.model.classifier import Classifier, SureFirst, load_model
    from fer_core.model.ensemble import MEMBER_FILE, read_manifest
    from fer_core.model.preprocess import DEFAULT_MARGIN, crop_face, faces_to_batch

    manifest = read_manifest(args.model)
    detector = FaceDetector()
    sets = {}  # name -> (faces, labels)
    test = load_split(args.data, "test")
    sets["FER2013 test/"] = (test.images[..., None], test.labels)
    crops, labels = [], []
    for path, label in progress(wild_items(args.wild, args.subset), "wild-dev"):
        image = cv2.imread(str(path))
        boxes = detector.detect(image)
        if boxes:
            crops.append(crop_face(image, boxes[0], DEFAULT_MARGIN))
            labels.append(label)
    listed = f"the photos in {shown_path(args.subset)}" if args.subset else "all photos"
    sets[f"wild-dev ({listed}, {len(labels)} faces)"] = (faces_to_batch(crops), np.array(labels))

    stored = []  # per member: the probabilities of every face of every set, one after the other
    faces = np.concatenate([faces for faces, _ in sets.values()])
    for folder in manifest.member_dirs(args.model):
        if manifest.views in ("none", "flip"):  # as the app reads it here: its 8-bit or OpenCV copy, else TensorFlow
            member = Classifier.load(folder / MEMBER_FILE)
            probs = member.predict_batch(faces)
            if manifest.views == "flip":
                probs = (probs + member.predict_batch(faces[:, :, ::-1])) / 2
        else:  # other views run in TensorFlow
            member = Classifier.from_keras(load_model(folder / MEMBER_FILE), tta=manifest.views)
            probs = member.predict_batch(faces)
        print(f"read with {shown_path(folder)} ({member.engine})", file=sys.stderr)
        stored.append(probs)
    starts = np.cumsum([0] + [len(labels) for _, labels in sets.values()])

    def replay(sure_at: float) -> tuple[list[float], float]:
        """The accuracy on each set and the members read per face, read as SureFirst reads at `sure_at`."""
        reads = np.zeros(len(faces))

        def member(probs: np.ndarray):
            def read(index: np.ndarray) -> np.ndarray:
                reads[index] += 1
                return probs[index]

            return read

        probs = SureFirst([member(p) for p in stored], sure_at)(np.arange(len(faces))) if sure_at else None
        if probs is None:  # every member reads every face
            probs, reads[:] = np.mean(stored, axis=0), len(stored)
        right = probs.argmax(axis=1) == np.concatenate([labels for _, labels in sets.values()])
        return [float(right[a:b].mean()) for a, b in zip(starts[:-1], starts[1:])], float(reads.mean())

    print(f"{shown_path(args.model)}: members {', '.join(manifest.members)} in this order, views {manifest.views}\n")
    print("| sure_at | " + " | ".join(sets) + " | members read per face |")
    print("|---:|" + "---:|" * (len(sets) + 1))
    every, _ = replay(0.0)
    rows = [(0.0, *replay(0.0))] + [(t, *replay(t)) for t in THRESHOLDS]
    for sure_at, accuracies, reads in rows:
        shown = f"{sure_at:.2f}" if sure_at else "every member"
        print(f"| {shown} | " + " | ".join(f"{a:.2%}" for a in accuracies) + f" | {reads:.2f} |")
    floor = min(FLOOR, every[0])
    fit = [t for t, accuracies, _ in rows[1:] if accuracies[0] >= max(every[0] - TOLERANCE, floor)]
    chosen = min(fit) if fit else 0.0
    print(f"\nchosen: sure_at {chosen}" + ("" if fit else " (no threshold keeps the accuracy: every member reads)"))
    members = " ".join(shown_path(folder.resolve()) for folder in manifest.member_dirs(args.model))
    print(f"to ship it: python -m fer_core ensemble {members} --views {manifest.views} --sure-at {chosen} --data ...")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="an ensemble's folder (its ensemble.json)")
    parser.add_argument("--data", required=True, help="FER2013 folder or fer2013.csv; its test split is read")
    parser.add_argument("--wild", type=Path, default=ROOT.parent / "shared" / "wild-dev")
    parser.add_argument("--subset", type=Path, help="only these wild-dev photos: paths relative to --wild, one a line")
    return parser.parse_args()


if __name__ == "__main__":
    main()
