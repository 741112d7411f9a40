"""Real faces: the project's models and the `fer` package side by side on wild-dev and FER2013 test/.

    python bench/real_faces.py [--wild ../shared/wild-dev] [--subset held_out.txt] [--data ../shared/fer2013]
                               [--model PATH ...] [--fer-python /work/venv-fer/bin/python]

Models: the photo model (models/fer_vgg), the live model (models/fer_live/model.keras) and each
`--model` (repeatable); with `--fer-python` (the `fer` package's virtualenv) also `fer`, run through
bench/fer_worker.py, and skipped with a line saying so when it is not given or not there.
`--subset` restricts wild-dev to the photos a file lists, one path a line relative to `--wild`
(`angry/Some_Person_0001.jpg`): the part of it a model never trained on.

Printed, as markdown tables:

- wild-dev, whole photos: each photo resized to the 48x48 grey input as one face (the project's
  preprocessing, `fer_core.model.preprocess`; `fer`'s network given the photo as the face, no border):
  accuracy, macro-F1 (over the classes the set has) and each class's recall ('-': not in the set);
- wild-dev through the full pipeline (the photo page's detector, run once, its largest face classified by
  each model; `fer`'s own `detect_emotions`): photos with a face found, accuracy over those, and end to
  end, where a photo with no face counts as wrong (accuracy, macro-F1, recalls);
- FER2013 test/ (the given 48x48 crops, to `fer`'s network too, as they are): accuracy and macro-F1.

Progress goes to stderr. Figures and the command that made them: bench/results.md, "Real faces".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fer_worker import start  # noqa: E402

from fer_core.labels import EMOTIONS  # noqa: E402
from fer_core.reporting.evaluation import Evaluation, evaluate_predictions  # noqa: E402

FER_ROW = "`fer` package"


def main() -> None:
    args = _arguments()
    from load import LoadMeter

    from fer_core.datasets import load_split
    from fer_core.model.classifier import DEFAULT_MODEL, LIVE_MODEL
    from fer_core.model.preprocess import faces_to_batch
    from fer_core.paths import shown_path
    from fer_core.pipeline import EmotionPipeline
    from fer_core.reporting.cards import hardware_description

    meter = LoadMeter()
    paths = {f"`{shown_path(p)}`": p for p in [DEFAULT_MODEL, LIVE_MODEL, *args.model]}
    pipelines = {name: EmotionPipeline.load(path) for name, path in paths.items()}
    finder = next(iter(pipelines.values()))  # its detector finds the faces every model reads
    fer = start(args.fer_python)
    items = wild_items(args.wild, args.subset)
    truth = np.array([label for _, label in items])

    whole = {name: [] for name in pipelines}
    piped = {name: [] for name in pipelines}
    fer_whole, fer_piped = [], []
    for path, _ in progress(items, "wild-dev"):
        image = cv2.imread(str(path))
        batch = faces_to_batch([image])
        faces = finder.analyze(image)
        box = max((face.box for face in faces), key=lambda b: b[2] * b[3], default=None)
        for name, pipeline in pipelines.items():
            whole[name].append(int(np.argmax(pipeline.classifier.predict_batch(batch)[0])))
            piped[name].append(EMOTIONS.index(pipeline.classify_boxes(image, [box])[0].label) if box else -1)
        if fer:
            fer_whole.append(fer.label("whole", path))
            fer_piped.append(fer.label("detect", path))
    if fer:
        whole[FER_ROW], piped[FER_ROW] = fer_whole, fer_piped

    test = load_split(args.data, "test")
    fer2013 = {
        name: np.argmax(pipeline.classifier.predict_batch(test.images[..., None]), 1)
        for name, pipeline in pipelines.items()
    }
    if fer:
        with tempfile.TemporaryDirectory() as folder:
            files = _image_files(test, Path(folder))
            fer2013[FER_ROW] = [fer.label("whole", file) for file in progress(files, "FER2013 test/ through fer")]
        fer.close()

    subset = f", the {len(items)} listed in {args.subset}" if args.subset else ""
    print(f"machine: {hardware_description()}; {meter.describe()}")
    if fer:
        print(f"the fer package: {fer.version} (FER(mtcnn=False): its Haar cascade and its network)")
    print(f"\nwild-dev ({shown_path(args.wild)}{subset}: {len(items)} photos), whole photos as the face\n")
    print(f"| | accuracy | macro-F1 | recall: {' / '.join(EMOTIONS)} |\n|---|---:|---:|---|")
    for name, predictions in whole.items():
        scores = evaluate_predictions(truth, predictions)
        print(f"| {name} | {scores.accuracy:.1%} | {scores.macro_f1:.3f} | {recalls(scores)} |")
    print("\nwild-dev through the full pipeline (largest face per photo; no face found counts wrong)\n")
    print("| | faces found | accuracy over found | end to end | macro-F1 end to end | recall end to end |")
    print("|---|---:|---:|---:|---:|---|")
    for name, predictions in piped.items():
        predictions = np.array(predictions)
        found = predictions >= 0
        over_found = float(np.mean(predictions[found] == truth[found])) if found.any() else 0.0
        scores = evaluate_predictions(truth, predictions)
        print(
            f"| {name} | {found.mean():.1%} | {over_found:.1%} | {scores.accuracy:.1%} | {scores.macro_f1:.3f} "
            f"| {recalls(scores)} |"
        )
    print(f"\nFER2013 test/ ({shown_path(args.data)}, {len(test.labels)} given face crops)\n")
    print("| | accuracy | macro-F1 |\n|---|---:|---:|")
    for name, predictions in fer2013.items():
        scores = evaluate_predictions(test.labels, predictions)
        print(f"| {name} | {scores.accuracy:.1%} | {scores.macro_f1:.3f} |")


def _arguments() -> argparse.Namespace:
    from fer_core.paths import data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wild", type=Path, default=ROOT.parent / "shared" / "wild-dev")
    parser.add_argument("--subset", type=Path, help="only these photos: paths relative to --wild, one a line")
    parser.add_argument("--data", type=Path, default=data_dir(), help="FER2013 (default: $FER_DATA or fer2013/)")
    parser.add_argument("--model", action="append", default=[], help="one more model (repeatable)")
    parser.add_argument("--fer-python", help="the fer package's virtualenv python, e.g. /work/venv-fer/bin/python")
    return parser.parse_args()


def wild_items(folder: Path, subset: Path | None = None) -> list[tuple[Path, int]]:
    """wild-dev's photos as (path, class index), in class then name order; only `subset`'s when given."""
    items = [(path, label) for label, name in enumerate(EMOTIONS) for path in sorted((folder / name).glob("*.jpg"))]
    if subset is None:
        return items
    listed = set(subset.read_text().split())
    chosen = [(path, label) for path, label in items if path.relative_to(folder).as_posix() in listed]
    if len(chosen) < len(listed):
        print(f"{len(listed) - len(chosen)} photos listed in {subset} are not in {folder}", file=sys.stderr)
    return chosen


def recalls(scores: Evaluation) -> str:
    """Each class's recall, '-' for a class the set does not have."""
    cells = [scores.per_class[name] for name in EMOTIONS]
    return " / ".join(f"{c.recall:.2f}" if c.support else "-" for c in cells)


def progress(items: list, what: str):
    """`items`, one by one, with a line on stderr after each tenth: how far, and the time left."""
    started, step = time.perf_counter(), max(1, len(items) // 10)
    for done, item in enumerate(items, 1):
        yield item
        if done % step == 0 or done == len(items):
            spent = time.perf_counter() - started
            left = spent / done * (len(items) - done)
            print(f"{what}: {done}/{len(items)}, {spent:.0f} s, about {left:.0f} s left", file=sys.stderr)


def _image_files(dataset, folder: Path) -> list[Path]:
    """The data set's images as files: its own where it was read from a folder, else written to `folder`."""
    paths = [Path(p) for p in dataset.paths]
    if all(p.is_file() for p in paths[:1]):
        return paths
    for i, image in enumerate(dataset.images):
        cv2.imwrite(str(folder / f"{i}.png"), image)
    return [folder / f"{i}.png" for i in range(len(dataset.images))]


if __name__ == "__main__":
    main()
