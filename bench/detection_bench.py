"""Detection on whole frames: faces found, phantom faces, end-to-end accuracy, ms per frame.

    python bench/detection_bench.py [--split tune|holdout] [--faces ../shared/fer2013/test]
                                    [--pictures a.png b.jpg ...] [--frames 200] [--seed 0]

Labelled frames are generated from FER2013 test faces (48x48 grayscale, cut at forehead and chin):
frames of 640x480, 1280x720, 1920x1080 and 480x640, holding 1 to 5 faces of several sizes (down to
5% of the shorter side) at random places, some cut by the frame's edge, some faded into the
background, on plain, gradient or textured backgrounds. Face-free frames are scikit-image's face-free
sample pictures, crops and rescales of them, and generated textures.

The faces and the pictures are split in two by a hash of their names: `--split tune` (the default)
uses one half, `--split holdout` the other, so settings chosen on `tune` can be checked on frames
they never saw. `--faces`/`--pictures` point the same generator at other faces and pictures; for a
withheld set of your own, give `--split all` so that all of them are used:

    python bench/detection_bench.py --split all --faces other_faces/ --pictures other/*.jpg --seed 1

Printed: detection rate (a face counts as found when a box's centre lies in it and the box is 0.5x
to 2x its size) and the share of faces the cascades proposed any box for, phantom faces per
face-free frame and the share of face-free frames with one, boxes matching no face in face frames,
the classifier's accuracy on the faces as 48x48 crops and on each face's true square cut back out
of its frame (the best a box could do), the end-to-end accuracy (the found box's label; a missed
face counts as wrong) and its ratio to the crop accuracy, and ms per frame (detection + classification).
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

from fer_core.labels import EMOTIONS  # noqa: E402
from fer_core.synthetic import face_frame, free_frame, load_faces, load_pictures, matches  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["tune", "holdout", "all"], default="tune")
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "fer2013" / "test")
    parser.add_argument("--pictures", nargs="*", help="face-free pictures (default: scikit-image's)")
    parser.add_argument("--frames", type=int, default=200, help="face frames, and as many face-free frames")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    from fer_core.classifier import DEFAULT_MODEL
    from fer_core.pipeline import EmotionPipeline

    split = None if args.split == "all" else args.split
    faces = load_faces(args.faces, split)
    pictures = load_pictures(args.pictures, split)
    if not faces or not pictures:
        sys.exit(f"no faces in {args.faces} or no face-free pictures")
    rng = np.random.default_rng(args.seed)
    face_frames = [face_frame(rng, faces, pictures) for _ in range(args.frames)]
    free_frames = [free_frame(rng, pictures) for _ in range(args.frames)]

    pipeline = EmotionPipeline.load(args.model or DEFAULT_MODEL)
    crops = np.stack([c for f in face_frames for c in f.faces])[..., None]
    truth = np.array([label for f in face_frames for label in f.labels])
    crop_accuracy = float(np.mean(np.argmax(pipeline.classifier.predict_batch(crops), 1) == truth))
    # the best any box could do: each face's own square cut back out of its frame (faded edges, cuts and all)
    squares = [pipeline.classify_boxes(f.image, f.boxes) for f in face_frames]
    square_accuracy = float(np.mean([EMOTIONS.index(face.label) for faces in squares for face in faces] == truth))

    pipeline.analyze(face_frames[0].image)  # warm up
    found = correct = total = extra = 0
    ms: list[float] = []
    by_kind: dict[str, list[int]] = {}
    for frame in face_frames:
        started = time.perf_counter()
        result = pipeline.analyze(frame.image)
        ms.append(1000 * (time.perf_counter() - started))
        used = set()
        for truth_box, label in zip(frame.boxes, frame.labels):
            total += 1
            hit = next((i for i, f in enumerate(result) if i not in used and matches(f.box, truth_box)), None)
            stats = by_kind.setdefault(frame.kind, [0, 0])
            stats[1] += 1
            if hit is not None:
                used.add(hit)
                found += 1
                stats[0] += 1
                correct += EMOTIONS.index(result[hit].label) == label
        extra += len(result) - len(used)
    # the cascades' share: faces with any proposed box at all, before the verifier (not timed)
    proposed = 0
    for frame in face_frames:
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        boxes = [p.box for p in pipeline.detector.proposals.propose(gray, pipeline.detector.settings)]
        proposed += sum(any(matches(box, truth) for box in boxes) for truth in frame.boxes)
    phantoms, with_phantom = 0, 0
    for frame in free_frames:
        started = time.perf_counter()
        result = pipeline.analyze(frame.image)
        ms.append(1000 * (time.perf_counter() - started))
        phantoms += len(result)
        with_phantom += bool(result)

    n_free = len(free_frames)
    e2e = correct / total
    print(f"split {args.split}: {len(face_frames)} face frames ({total} faces), {n_free} face-free frames")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| detection rate | {found / total:.1%} |")
    print(f"| faces with any cascade box, before the verifier | {proposed / total:.1%} |")
    for kind, (hit, count) in sorted(by_kind.items()):
        print(f"| detection rate, {kind} background | {hit / count:.1%} ({count} faces) |")
    print(f"| face-free frames with a phantom face | {with_phantom / n_free:.1%} |")
    print(f"| phantom faces per face-free frame | {phantoms / n_free:.2f} |")
    print(f"| boxes on no face, per face frame | {extra / len(face_frames):.2f} |")
    print(f"| crop accuracy (48x48 faces) | {crop_accuracy:.1%} |")
    print(f"| accuracy on each face's true square cut from its frame | {square_accuracy:.1%} |")
    print(f"| end-to-end accuracy (missed = wrong) | {e2e:.1%} |")
    print(f"| end-to-end / crop accuracy | {e2e / crop_accuracy:.2f} |")
    print(f"| ms per frame, mean / p50 / p95 | {np.mean(ms):.1f} / {np.median(ms):.1f} / {np.percentile(ms, 95):.1f} |")


if __name__ == "__main__":
    main()
