"""Finding faces in real photos: the photo path beside the `fer` package, in one run.

    python bench/real_detection.py --free-pictures DIR [--wild ../shared/wild-dev] [--subset FILE]
                                   [--fer-python /work/venv-fer/bin/python] [--repeats 5] [--seed 0]

The real-photo part of the detection bench (`detection_bench.py` measures generated frames). Sets:

- wild-dev's close-ups (`--subset`: only the photos a file lists, as in real_faces.py): found when a
  box's centre lies in the photo's middle 60% each way and its side is at least 30% of the photo's
  shorter side (a box on the face that fills it); also photos with any box, with more than one, and
  with two boxes on one face (a box's centre inside another box);
- face-free real pictures: every .jpg/.png/.webp in `--free-pictures` (docs/detection.md says how to
  build that folder from Debian's wallpaper packages; nothing is downloaded here), each giving 4 frames
  of 640x480 (4 in 5) or 480x640: the whole picture cut to that shape and three random cuts of 30-80% of
  it. A frame with any box has a phantom face;
- two group photos: bench/group_photo.py's (the source of docs/group_photo.jpg: six astronaut heads of
  110-330 px on bricks and a cup, 1600x900) and eight wild-dev photos of 55-200 px pasted on the first
  face-free picture (1280x960). A face is found when a box's centre lies in its square and the box is
  0.3x to 2x its side;
- ms per 640x480 frame: six face-free frames and six with a wild-dev photo of 200-400 px pasted in,
  each through this pipeline's `analyze` (detection and the photo model) and `fer`'s `detect_emotions`
  (its Haar cascade and network, timed in its worker), alternating frame by frame, `--repeats` rounds
  after one to warm up: the p50 of each and their ratio;
- ms per 4032x3024 photo (a phone's 12 MP): four face-free pictures and four with a wild-dev photo of
  800-1600 px pasted in, timed the same way (half the rounds). Decoding the file is left out on both
  sides.

With `--fer-python` (the `fer` package's virtualenv, run through bench/fer_worker.py) every set also
goes through `fer`; without it, its column is '-'. Progress goes to stderr.
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
from real_faces import progress, wild_items  # noqa: E402

PICTURES = (".jpg", ".jpeg", ".png", ".webp")
PHONE = (4032, 3024)  # a phone camera's 12 MP photo


def main() -> None:
    args = _arguments()
    from group_photo import PLACES, group_photo
    from load import LoadMeter

    from fer_core.pipeline import EmotionPipeline
    from fer_core.reporting.cards import hardware_description

    meter = LoadMeter()
    pipeline = EmotionPipeline.load()
    fer = start(args.fer_python)
    rng = np.random.default_rng(args.seed)
    wild = [path for path, _ in wild_items(args.wild, args.subset)]
    pictures = sorted(p for p in args.free_pictures.iterdir() if p.suffix.lower() in PICTURES)
    if not pictures:
        sys.exit(f"no pictures in {args.free_pictures}")
    free = [frame for p in pictures for frame in free_frames(cv2.imread(str(p)), rng)]
    phantoms = {}  # each side's pictures whose frames held a phantom face
    astronauts = (group_photo(), [(x, y, side, side) for x, y, side in PLACES])
    groups = {
        f"group photo, bench/group_photo.py ({len(PLACES)} faces)": astronauts,
        "group photo, 8 wild-dev photos on a face-free one": wild_group(wild, cv2.imread(str(pictures[0])), rng),
    }
    timed = [cv2.resize(f, (640, 480)) for f in free[1::4][:12]]  # random cuts, made 640x480 where 480x640
    timed = timed[:6] + [paste(f, cv2.imread(str(rng.choice(wild))), rng) for f in timed[6:]]
    # A phone's 12 MP photo: four face-free pictures and four with a wild-dev photo pasted in at 800-1600 px.
    phone = [cv2.resize(cv2.imread(str(p)), PHONE, interpolation=cv2.INTER_CUBIC) for p in pictures[2:10]]
    sides = rng.integers(800, 1601, 4)
    phone = phone[:4] + [paste(f, cv2.imread(str(rng.choice(wild))), rng, int(n)) for f, n in zip(phone[4:], sides)]

    ours, theirs = {}, {}
    with tempfile.TemporaryDirectory() as folder:

        def boxes(image, name: str) -> tuple[list, list]:
            """(this pipeline's boxes, fer's boxes) for an image; fer reads it from a lossless file."""
            found = [face.box for face in pipeline.analyze(image)]
            if not fer:
                return found, []
            cv2.imwrite(str(Path(folder) / name), image)
            return found, [face["box"] for face in fer.run("detect", Path(folder) / name)["faces"]]

        results = [boxes(cv2.imread(str(p)), "wild.png") for p in progress(wild, "wild-dev")]
        for side, found in zip((ours, theirs), zip(*results)):
            on_face = sum(on_closeup(cv2.imread(str(p)).shape, b) for p, b in zip(wild, found))
            side["wild-dev close-ups: a box on the face"] = share(on_face, len(wild))
            side["wild-dev close-ups: any box"] = share(sum(bool(b) for b in found), len(wild))
            side["wild-dev close-ups: more than one box"] = share(sum(len(b) > 1 for b in found), len(wild))
            side["wild-dev close-ups: a box's centre inside another box"] = share(sum(map(nested, found)), len(wild))
        results = [boxes(frame, "free.png") for frame in progress(free, "face-free frames")]
        for name, side, found in zip(("this pipeline", "fer"), (ours, theirs), zip(*results)):
            side[f"face-free real frames ({len(pictures)} pictures) with a phantom face"] = share(
                sum(bool(b) for b in found), len(free)
            )
            side["phantom faces per face-free frame"] = f"{sum(map(len, found)) / len(free):.3f}"
            phantoms[name] = sorted({pictures[i // 4].name for i, b in enumerate(found) if b})
        for name, (image, truth) in groups.items():
            for side, found in zip((ours, theirs), boxes(image, "group.png")):
                hits = sum(any(in_square(b, t) for b in found) for t in truth)
                stray = sum(not any(in_square(b, t) for t in truth) for b in found)
                side[f"{name}: found, boxes on no face"] = f"{hits} of {len(truth)}, {stray}"
        ms = timing(pipeline, fer, timed, Path(folder), args.repeats)
        phone_ms = timing(pipeline, fer, phone, Path(folder), max(1, args.repeats // 2))
    if fer:
        fer.close()
    else:
        theirs.clear()  # filled from empty box lists above
        phantoms.pop("fer")

    ratio = {}
    for size, timed_ms in (("640x480 frame", ms), (f"{PHONE[0]}x{PHONE[1]} photo", phone_ms)):
        for kind in timed_ms["ours"]:
            ours[f"ms per {size}, p50: {kind}"] = f"{np.median(timed_ms['ours'][kind]):.0f}"
            if fer:
                theirs[f"ms per {size}, p50: {kind}"] = f"{np.median(timed_ms['fer'][kind]):.0f}"
                ratio[f"{size}, {kind}"] = f"{np.median(timed_ms['ours'][kind]) / np.median(timed_ms['fer'][kind]):.2f}"
    print(f"machine: {hardware_description()}; {meter.describe()}")
    if fer:
        print(f"the fer package: {fer.version} (FER(mtcnn=False): its Haar cascade and its network)")
    print("\n| | this pipeline (photo path) | `fer` package |\n|---|---:|---:|")
    for row, value in ours.items():
        print(f"| {row} | {value} | {theirs.get(row, '-')} |")
    for kind, value in ratio.items():
        print(f"| ms p50 ratio, this / fer: {kind} | {value} | |")
    for name, pictures_with in phantoms.items():
        print(f"\nface-free pictures with a phantom face ({name}): {', '.join(pictures_with) or 'none'}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--free-pictures", type=Path, required=True, help="a folder of face-free real pictures")
    parser.add_argument("--wild", type=Path, default=ROOT.parent / "shared" / "wild-dev")
    parser.add_argument("--subset", type=Path, help="only these wild-dev photos: paths relative to --wild")
    parser.add_argument("--fer-python", help="the fer package's virtualenv python, e.g. /work/venv-fer/bin/python")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds over the 12 frames")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def share(count: int, total: int) -> str:
    return f"{count / max(total, 1):.1%} ({count} of {total})"


def on_closeup(shape: tuple, boxes: list) -> bool:
    """Whether a box lies on the face of a close-up: centre in the middle 60%, side at least 30% of the photo's."""
    height, width = shape[:2]
    return any(
        0.2 * width <= x + w / 2 <= 0.8 * width
        and 0.2 * height <= y + h / 2 <= 0.8 * height
        and w >= 0.3 * min(height, width)
        for x, y, w, h in boxes
    )


def nested(boxes: list) -> bool:
    """Whether one box's centre lies inside another box: two boxes on one face."""
    return any(
        a is not b and b[0] <= a[0] + a[2] / 2 <= b[0] + b[2] and b[1] <= a[1] + a[3] / 2 <= b[1] + b[3]
        for a in boxes
        for b in boxes
    )


def in_square(box, square) -> bool:
    x, y, w, _ = box
    sx, sy, side, _ = square
    return sx <= x + w / 2 <= sx + side and sy <= y + box[3] / 2 <= sy + side and 0.3 <= w / side <= 2.0


def free_frames(picture: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Four frames of a picture: the whole of it cut to the frame's shape, then three random cuts of 30-80%."""
    frames = []
    for k in range(4):
        width, height = (640, 480) if rng.random() < 0.8 else (480, 640)
        ph, pw = picture.shape[:2]
        part = 1.0 if k == 0 else rng.uniform(0.3, 0.8)
        cw = max(16, min(pw, int(min(pw, ph * width / height) * part)))
        ch = max(16, min(ph, int(cw * height / width)))
        x = int(rng.integers(0, pw - cw + 1)) if k else (pw - cw) // 2
        y = int(rng.integers(0, ph - ch + 1)) if k else (ph - ch) // 2
        shrink = cv2.INTER_AREA if cw > width else cv2.INTER_LINEAR
        frames.append(cv2.resize(picture[y : y + ch, x : x + cw], (width, height), interpolation=shrink))
    return frames


def paste(frame: np.ndarray, photo: np.ndarray, rng: np.random.Generator, side: int | None = None) -> np.ndarray:
    """`frame` with `photo` pasted in as a square of `side` px (200-400 when not given) at a random place."""
    side = side or int(rng.integers(200, 401))
    x, y = (int(rng.integers(0, n - side + 1)) for n in (frame.shape[1], frame.shape[0]))
    frame = frame.copy()
    frame[y : y + side, x : x + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    return frame


def wild_group(wild: list[Path], picture: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """Eight wild-dev photos of 55-200 px on a face-free picture made 1280x960, and their squares."""
    image = cv2.resize(picture, (1280, 960), interpolation=cv2.INTER_AREA)
    places = [(40, 60, 200), (330, 100, 160), (560, 80, 120), (760, 120, 90), (920, 140, 70), (1060, 160, 55)]
    places += [(150, 500, 140), (700, 520, 100)]
    for x, y, side in places:
        photo = cv2.imread(str(wild[rng.integers(len(wild))]))
        image[y : y + side, x : x + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    return image, [(x, y, side, side) for x, y, side in places]


def timing(pipeline, fer, frames: list[np.ndarray], folder: Path, repeats: int) -> dict:
    """ms per frame of each side, alternating frame by frame: {"ours"|"fer": {kind: [ms, ...]}}."""
    kinds = ("face-free", "with a face", "all")
    ms = {side: {kind: [] for kind in kinds} for side in ("ours", "fer")}
    files = []
    for i, frame in enumerate(frames):
        files.append(folder / f"timed{i}.png")
        cv2.imwrite(str(files[-1]), frame)
    for round_ in progress(range(repeats + 1), "ms per frame, rounds"):
        for i, (frame, file) in enumerate(zip(frames, files)):
            kind = kinds[0] if i < len(frames) // 2 else kinds[1]
            took = fer.run("detect", file)["ms"] if fer else None
            started = time.perf_counter()
            pipeline.analyze(frame)
            ours = 1000 * (time.perf_counter() - started)
            if round_:  # round 0 warms up
                for k in (kind, "all"):
                    ms["ours"][k].append(ours)
                    if took is not None:
                        ms["fer"][k].append(took)
    return ms


if __name__ == "__main__":
    main()
