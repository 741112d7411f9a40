"""Detection on whole frames: faces found, phantom faces, end-to-end accuracy, ms per frame.

    python bench/detection_bench.py [--split tune|holdout] [--faces ../shared/fer2013/test]
                                    [--pictures a.png b.jpg ...] [--frames 200] [--seed 0]
                                    [--setup photo|video] [--fer-python .venv-fer/bin/python]
                                    [--proposals]

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

`--setup photo` (the default) runs what the photo page runs; `--setup video` what the live page and
video files run on a frame they search whole (the live model, faces from 15% of the shorter side: the
rates are then also given for the faces of that size). With `--fer-python` (the `fer` package's
virtualenv: see `pipeline_vs_fer.py`) the same frames also go through `fer`, and its detection rate,
phantom faces and ms per frame are printed beside this pipeline's.

Printed (every share with its counts, so that runs can be pooled: save each run's output and give the
files to `bench/pool_detection.py`): detection rate (a face
counts as found when a box's centre lies in it and the box is 0.5x to 2x its size), also by background
and by the face's size (under 8.5%, 8.5-15%, 15-30%, 30% and over of the frame's shorter side), and,
with `--proposals`, the share of faces the cascades proposed any box for (a second search of every
frame, which doubles the run's time), phantom faces per face-free frame and the share of face-free
frames with one, boxes matching no face in face frames, the classifier's accuracy on the faces as
48x48 crops and on each face's true square cut back out of its frame (the best a box could do), the
end-to-end accuracy (the found box's label; a missed face counts as wrong) and its ratio to the crop
accuracy, and ms per frame (detection + classification).
While it runs, a line on stderr after each tenth of the frames says how far it is and the time left.

Real photos (wild-dev close-ups, face-free real pictures, group photos, ms per 640x480 frame), side by
side with the `fer` package: `bench/real_detection.py`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fer_core.labels import EMOTIONS  # noqa: E402
from fer_core.training.synthetic import face_frame, free_frame, load_faces, load_pictures, matches  # noqa: E402

# Bands of face size (side over the frame's shorter side) for the detection rate by size.
SIZE_BANDS = {"under 8.5%": (0.0, 0.085), "8.5-15%": (0.085, 0.15), "15-30%": (0.15, 0.3), "30% and over": (0.3, 9.0)}


def main() -> None:
    args = _arguments()
    from fer_core.media.live import LiveSettings
    from fer_core.model.classifier import DEFAULT_MODEL, fast_model
    from fer_core.pipeline import EmotionPipeline

    split = None if args.split == "all" else args.split
    faces = load_faces(args.faces, split)
    pictures = load_pictures(args.pictures, split)
    if not faces or not pictures:
        sys.exit(f"no faces in {args.faces} or no face-free pictures")
    rng = np.random.default_rng(args.seed)
    face_frames = [face_frame(rng, faces, pictures) for _ in range(args.frames)]
    free_frames = [free_frame(rng, pictures) for _ in range(args.frames)]

    if args.setup == "photo":
        pipeline, settings = EmotionPipeline.load(args.model or DEFAULT_MODEL), None
    else:
        pipeline, settings = EmotionPipeline.load(args.model or fast_model()), LiveSettings().detector_settings()
    least = settings.min_face_fraction if settings else 0.0  # the smallest face the set-up searches for
    crops = np.stack([c for f in face_frames for c in f.faces])[..., None]
    truth = np.array([label for f in face_frames for label in f.labels])
    crops_right = int(np.sum(np.argmax(pipeline.classifier.predict_batch(crops), 1) == truth))
    # the best any box could do: each face's own square cut back out of its frame (faded edges, cuts and all)
    squares = [pipeline.classify_boxes(f.image, f.boxes) for f in face_frames]
    squares_right = int(np.sum([EMOTIONS.index(face.label) for faces in squares for face in faces] == truth))

    pipeline.analyze(face_frames[0].image, settings)  # warm up
    tally = _face_frames(pipeline, settings, face_frames, least)
    proposed = _proposed(pipeline, settings, face_frames) if args.proposals else None
    free = [_timed(pipeline, frame.image, settings) for frame in _progress(free_frames, "face-free frames")]
    ms = tally.ms + [took for took, _ in free]
    fer_rows = _fer_figures(args.fer_python, face_frames, free_frames, least) if args.fer_python else None

    total, n_free = tally.total, len(free_frames)
    rows = [("detection rate", _of(tally.found, total))]
    if least:
        rows.append((f"detection rate, faces from {least:.0%} of the shorter side", _of(*tally.searched)))
    if proposed is not None:
        rows.append(("faces with any cascade box, before the verifier", _of(proposed, total)))
    rows += [(f"detection rate, {kind} background", _of(*counts)) for kind, counts in sorted(tally.by_kind.items())]
    rows += [
        (f"detection rate, faces of {band} of the shorter side", _of(*counts))
        for band, counts in tally.by_size.items()
        if counts[1]
    ]
    rows += [
        ("face-free frames with a phantom face", _of(sum(bool(result) for _, result in free), n_free)),
        ("phantom faces per face-free frame", f"{sum(len(result) for _, result in free) / n_free:.2f}"),
        ("boxes on no face, per face frame", f"{tally.extra / len(face_frames):.2f}"),
        ("crop accuracy (48x48 faces)", _of(crops_right, total)),
        ("accuracy on each face's true square cut from its frame", _of(squares_right, total)),
        ("end-to-end accuracy (missed = wrong)", _of(tally.correct, total)),
        ("end-to-end / crop accuracy", f"{tally.correct / crops_right:.3f}"),
        ("ms per frame, mean / p50 / p95", _ms(ms)),
    ]
    frames = f"{len(face_frames)} face frames ({total} faces), {n_free} face-free frames"
    print(f"split {args.split}, {args.setup} set-up: {frames}")
    _print_table(rows)
    if fer_rows:
        print("\nthe fer package on the same frames")
        _print_table(fer_rows)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["tune", "holdout", "all"], default="tune")
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "fer2013" / "test")
    parser.add_argument("--pictures", nargs="*", help="face-free pictures (default: scikit-image's)")
    parser.add_argument("--frames", type=int, default=200, help="face frames, and as many face-free frames")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--setup", choices=["photo", "video"], default="photo")
    parser.add_argument("--fer-python", help="also run the fer package from this virtualenv's python")
    parser.add_argument(
        "--proposals",
        action="store_true",
        help="also count the faces the cascades proposed any box for (searches twice)",
    )
    return parser.parse_args()


@dataclass
class Tally:
    """The labelled faces of the face frames: found, read right, and found by background and by size."""

    correct: int = 0  # found and read right
    extra: int = 0  # boxes on no face
    searched: list[int] = field(default_factory=lambda: [0, 0])  # faces of the size searched for: found, all
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # background: found, all
    by_size: dict[str, list[int]] = field(default_factory=lambda: {band: [0, 0] for band in SIZE_BANDS})
    ms: list[float] = field(default_factory=list)

    @property
    def found(self) -> int:
        return sum(found for found, _ in self.by_size.values())  # every face has one size band

    @property
    def total(self) -> int:
        return sum(count for _, count in self.by_size.values())


def _face_frames(pipeline, settings, face_frames, least: float) -> Tally:
    """Each frame through the pipeline, each found box matched to one labelled face (a face counts once)."""
    tally = Tally()
    for frame in _progress(face_frames, "face frames"):
        took, result = _timed(pipeline, frame.image, settings)
        tally.ms.append(took)
        used = set()
        short = min(frame.image.shape[:2])
        for truth_box, label in zip(frame.boxes, frame.labels):
            hit = next((i for i, f in enumerate(result) if i not in used and matches(f.box, truth_box)), None)
            band = next(name for name, (low, high) in SIZE_BANDS.items() if low <= truth_box[2] / short < high)
            counts = [tally.by_kind.setdefault(frame.kind, [0, 0]), tally.by_size[band]]
            if truth_box[2] >= least * short:
                counts.append(tally.searched)
            for found_all in counts:
                found_all[0] += hit is not None
                found_all[1] += 1
            if hit is not None:
                used.add(hit)
                tally.correct += EMOTIONS.index(result[hit].label) == label
        tally.extra += len(result) - len(used)
    return tally


def _proposed(pipeline, settings, face_frames) -> int:
    """The cascades' share: faces with any proposed box at all, before the verifier (not timed)."""
    proposed = 0
    for frame in face_frames:
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        boxes = [p.box for p in pipeline.detector.proposals.propose(gray, settings or pipeline.detector.settings)]
        proposed += sum(any(matches(box, truth) for box in boxes) for truth in frame.boxes)
    return proposed


def _timed(pipeline, image: np.ndarray, settings) -> tuple[float, list]:
    """(ms, the faces found) of one frame through the pipeline."""
    started = time.perf_counter()
    result = pipeline.analyze(image, settings)
    return 1000 * (time.perf_counter() - started), result


def _of(part: int, whole: int) -> str:
    """A share with its counts, so that samples can be pooled exactly: '93.6% (733 of 783)'."""
    return f"{part / whole:.1%} ({part} of {whole})"


def _ms(ms: list[float]) -> str:
    return f"{np.mean(ms):.1f} / {np.median(ms):.1f} / {np.percentile(ms, 95):.1f}"


def _print_table(rows: list[tuple[str, str]]) -> None:
    print("| measure | value |")
    print("|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def _progress(items: list, what: str):
    """`items` one by one, with a line on stderr after each tenth of them: done, and the time left."""
    from fer_core.media.video import Progress

    started = time.perf_counter()
    step = max(1, len(items) // 10)
    for done, item in enumerate(items, 1):
        yield item
        if done % step == 0 or done == len(items):
            progress = Progress(done, len(items), time.perf_counter() - started)
            each, left = 1000 * progress.elapsed_s / done, progress.seconds_left / 60
            print(f"{what}: {done}/{len(items)}, {each:.0f} ms each, {left:.0f} min left", file=sys.stderr)


def _fer_figures(python: str, face_frames, free_frames, least: float) -> list[tuple[str, str]]:
    """`fer`'s detection rate (all faces, and those from `least` of the shorter side), phantom faces and
    ms per frame on the same frames."""
    from pipeline_vs_fer import FerWorker

    fer = FerWorker(python)
    fer.run(face_frames[0].image)  # warm up
    found = [0, 0, 0, 0]  # all faces: found, count; faces from `least`: found, count
    ms: list[float] = []
    for frame in face_frames:
        took, boxes = fer.run(frame.image)
        ms.append(took)
        short = min(frame.image.shape[:2])
        for truth in frame.boxes:
            hit = any(matches(box, truth) for box in boxes)
            found[0] += hit
            found[1] += 1
            if truth[2] >= least * short:
                found[2] += hit
                found[3] += 1
    runs = [fer.run(frame.image) for frame in free_frames]
    fer.close()
    ms += [took for took, _ in runs]
    rows = [("version", fer.version), ("detection rate", _of(found[0], found[1]))]
    if least:
        rows.append((f"detection rate, faces from {least:.0%} of the shorter side", _of(found[2], found[3])))
    rows += [
        ("face-free frames with a phantom face", _of(sum(bool(boxes) for _, boxes in runs), len(runs))),
        ("phantom faces per face-free frame", f"{np.mean([len(boxes) for _, boxes in runs]):.2f}"),
        ("ms per frame, mean / p50 / p95", _ms(ms)),
    ]
    return rows


if __name__ == "__main__":
    main()
