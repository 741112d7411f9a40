"""Choose a model's `unsure_below` on real photos: where its top label is more often wrong than right.

    python bench/unsure_threshold.py --model models/fer_vgg [--search photo|video] [--subset FILE] [--write]

Every wild-dev photo goes through the app's path (the photo search, or with `--search video` the video
and live pages' Haar search), its largest face classified by the model; photos with no face found are
left out (the app shows nothing for them). Printed: for thresholds from 0.30 to 0.70, the share of faces
shown as unsure, how often an unsure face's top label and its top two are right, and how often a sure
face's label is; then the threshold chosen (`fer_core.reporting.unsure.choose_unsure_below`).
`--write` records it in the model's card (`model_card.json`), where the app reads it. A model trained on
some wild-dev photos is measured with `--subset` on the rest (models/fer_live/wild_dev_heldout.txt).
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
from fer_core.reporting.unsure import choose_unsure_below, figures_at, write_unsure_below  # noqa: E402

SHOWN = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70)


def main() -> None:
    args = _arguments()
    from fer_core.pipeline import EmotionPipeline

    if args.search == "video":
        from fer_core.media.video import VideoSettings

        settings = VideoSettings().detector_settings()
    else:
        from fer_core.faces.detection import DetectorSettings

        settings = DetectorSettings()
    pipeline = EmotionPipeline.load(args.model, settings=settings)
    items = wild_items(args.wild, args.subset)
    top, right, right2 = [], [], []
    for path, truth in progress(items, "wild-dev"):
        faces = pipeline.analyze(cv2.imread(str(path)))
        if not faces:
            continue
        probs = max(faces, key=lambda face: face.box[2] * face.box[3]).probs
        order = np.argsort(probs)[::-1]
        top.append(float(probs[order[0]]))
        right.append(order[0] == truth)
        right2.append(truth in order[:2])
    top, right, right2 = np.array(top), np.array(right, float), np.array(right2, float)

    subset = f", the photos listed in {args.subset}" if args.subset else ""
    print(f"{shown_path(args.model)} on wild-dev ({shown_path(args.wild)}{subset}), the {args.search} search:")
    print(f"{len(top)} photos with a face found, of {len(items)}; labels right: {right.mean():.1%}\n")
    print("| unsure below | faces unsure | unsure: top label right | unsure: top two right | sure: label right |")
    print("|---:|---:|---:|---:|---:|")
    for threshold in SHOWN:
        f = figures_at(threshold, top, right, right2)
        print(
            f"| {threshold:.2f} | {f.unsure_share:.1%} | {f.unsure_top_accuracy:.1%} "
            f"| {f.unsure_top_two_accuracy:.1%} | {f.sure_accuracy:.1%} |"
        )
    choice = choose_unsure_below(top, right, right2)
    print(
        f"\nchosen: unsure below {choice.unsure_below:.2f} ({choice.unsure_share:.1%} of faces; their top label right "
        f"{choice.unsure_top_accuracy:.1%}, one of their top two {choice.unsure_top_two_accuracy:.1%}; "
        f"the sure ones right {choice.sure_accuracy:.1%})"
    )
    if args.write:
        folder = args.model if args.model.is_dir() else args.model.parent
        chosen_on = f"wild-dev{subset or ' (all photos)'}, the {args.search} search, largest face"
        print(f"written to {shown_path(write_unsure_below(folder, choice, chosen_on))}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a model folder or .keras file")
    parser.add_argument("--wild", type=Path, default=ROOT.parent / "shared" / "wild-dev")
    parser.add_argument("--subset", type=Path, help="only these photos: paths relative to --wild, one a line")
    parser.add_argument("--search", choices=["photo", "video"], default="photo", help="the path the model runs on")
    parser.add_argument("--write", action="store_true", help="record the choice in the model's card")
    return parser.parse_args()


if __name__ == "__main__":
    main()
