"""Which members and test-time views make the best photo ensemble, scored on FER2013 `test/`.

    python bench/ensemble_choices.py --data ../shared/fer2013 \
        --members models/fer_vgg_s21 models/fer_vgg_s22 models/fer_vgg_s26 models/fer_vgg_s27 models/fer_live

Each network reads every view of the test faces once (shifted and mirrored by the same layers an
ensemble file bakes in, `fer_core.model.architecture.face_views`); every subset of the members, read in
each view set, is then scored by averaging the stored probabilities, as `python -m fer_core
ensemble` does. The classifier's own view sets are tried, and a few other shift sets that the
`--views` choices could grow to. Each row is compared with the shipped photo model (its card's
members and views) face by face: how many faces only it reads right, and how many only the row.
Choosing among many rows on `test/` makes the best row's figure optimistic: a difference of a few
faces either way is noise.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load import LoadMeter  # noqa: E402  bench/load.py: this script's folder is first on sys.path

from fer_core.datasets import load_split  # noqa: E402
from fer_core.model.classifier import DEFAULT_MODEL, TTA_VIEWS, Classifier  # noqa: E402
from fer_core.reporting.artifacts import CARD_FILE, MODEL_FILE  # noqa: E402
from fer_core.reporting.cards import hardware_description  # noqa: E402
from fer_core.reporting.evaluation import evaluate_predictions  # noqa: E402

# A shift set beyond the classifier's (each shift also read mirrored, as in TTA_VIEWS): the best
# of several tried once on cached outputs (shifts of 1 or 2 px along the axes, 1-3 px in a grid,
# zoom 0.9/1.1), kept here to show how little any of them changes.
CANDIDATE_VIEWS: dict[str, tuple[tuple[int, int], ...]] = {
    "diagonal2-flip": ((0, 0), (-2, -2), (2, -2), (-2, 2), (2, 2)),
}


def read_views(classifier: Classifier, faces: np.ndarray, shifts: set[tuple[int, int]]) -> dict:
    """{(dx, dy, mirrored): (N, 7) probabilities} for every shift of `faces`, plain and mirrored."""
    from fer_core.model.architecture import face_views

    probs = {}
    for dx, dy in sorted(shifts):
        plain, mirrored = (
            np.asarray(view).astype(np.uint8) for view in face_views(faces.astype(np.float32), ((dx, dy),))
        )
        probs[dx, dy, False] = classifier.predict_batch(plain)
        probs[dx, dy, True] = classifier.predict_batch(mirrored)
    return probs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="FER2013 folder (its test/ split is read)")
    parser.add_argument("--members", nargs="+", type=Path, required=True, help="trained models' directories")
    args = parser.parse_args()

    meter = LoadMeter()
    view_sets = {name: shifts for name, shifts in {**TTA_VIEWS, **CANDIDATE_VIEWS}.items() if shifts}
    view_sets["none"] = ((0, 0),)  # one plain view: the `none` entry, read without its mirror
    shifts = {shift for views in view_sets.values() for shift in views}
    test = load_split(args.data, "test")
    faces = test.images[..., None]
    probs = {}
    for directory in args.members:
        started = time.perf_counter()
        probs[directory.name] = read_views(Classifier.load(directory / MODEL_FILE), faces, shifts)
        print(f"{directory.name}: {2 * len(shifts)} views read in {time.perf_counter() - started:.0f} s", flush=True)

    def mean_probs(members: tuple[str, ...], views: str) -> np.ndarray:
        mirrors = (False,) if views == "none" else (False, True)
        return np.mean([probs[m][dx, dy, flip] for m in members for dx, dy in view_sets[views] for flip in mirrors], 0)

    shipped_card = json.loads((DEFAULT_MODEL / CARD_FILE).read_text())
    shipped = (tuple(shipped_card["members"]), shipped_card["views"])
    shipped_right = None
    if set(shipped[0]) <= set(probs):
        shipped_right = mean_probs(*shipped).argmax(1) == test.labels
    rows = []
    for size in range(1, len(probs) + 1):
        for members in itertools.combinations(probs, size):
            for views in view_sets:
                predicted = mean_probs(members, views).argmax(1)
                evaluation = evaluate_predictions(test.labels, predicted)
                right = predicted == test.labels
                versus = (
                    f"{int((shipped_right & ~right).sum())} / {int((right & ~shipped_right).sum())}"
                    if shipped_right is not None
                    else "-"
                )
                passes = len(members) * len(view_sets[views]) * (1 if views == "none" else 2)
                recall = {name: scores.recall for name, scores in evaluation.per_class.items()}
                rows.append(
                    (evaluation.accuracy, evaluation.macro_f1, recall, " + ".join(members), views, passes, versus)
                )

    print(f"Machine: {hardware_description()}; {meter.describe()}")
    print(f"FER2013 test/: {len(test)} faces; shipped photo model: {' + '.join(shipped[0])}, {shipped[1]} views")
    print(
        "| members | views | passes a face | accuracy | macro-F1 | disgust | fear "
        "| faces only shipped / only this reads right |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for accuracy, f1, recall, members, views, passes, versus in sorted(rows, key=lambda row: -row[0]):
        print(
            f"| {members} | {views} | {passes} | {accuracy:.2%} | {f1:.3f} | "
            f"{recall['disgust']:.2f} | {recall['fear']:.2f} | {versus} |"
        )


if __name__ == "__main__":
    main()
