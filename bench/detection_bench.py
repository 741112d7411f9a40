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
to 2x its size), phantom faces per face-free frame and the share of face-free frames with one,
boxes matching no face in face frames, the classifier's accuracy on the faces as 48x48 crops, the
end-to-end accuracy (the found box's label; a missed face counts as wrong) and its ratio to the
crop accuracy, and ms per frame (detection + classification).
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_core.labels import EMOTIONS  # noqa: E402

SIZES = [(640, 480), (640, 480), (1280, 720), (1920, 1080), (480, 640)]
# scikit-image's sample pictures that hold no face. Left out: astronaut and camera (people), chelsea
# (a cat), coins (ancient coins stamped with heads) and shepp_logan_phantom (a drawing of a head).
FACE_FREE = [
    "brick", "cell", "checkerboard", "clock", "coffee", "colorwheel", "grass", "gravel", "horse",
    "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms", "moon", "page", "retina",
    "rocket", "text",
]  # fmt: skip


def in_split(name: str, split: str) -> bool:
    return (zlib.crc32(name.encode()) % 2 == 0) == (split == "tune")


@dataclass
class Frame:
    image: np.ndarray
    boxes: list[tuple[int, int, int, int]]  # the faces' squares (may reach past the frame's edge)
    labels: list[int]
    faces: list[np.ndarray]  # the 48x48 crops, for the crop accuracy
    kind: str


def load_faces(folder: Path, split: str | None) -> list[tuple[np.ndarray, int]]:
    faces = []
    for label, name in enumerate(EMOTIONS):
        for path in sorted((folder / name).glob("*")):
            if split is None or in_split(path.name, split):
                image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                if image is not None:
                    faces.append((cv2.resize(image, (48, 48)), label))
    return faces


def load_pictures(paths: list[str] | None, split: str | None) -> list[np.ndarray]:
    if paths:
        return [image for p in paths if (image := cv2.imread(p)) is not None]
    from skimage import data

    pictures = []
    for name in FACE_FREE:
        if split is None or in_split(name, split):
            image = getattr(data, name)()
            if image.dtype != np.uint8:  # booleans and floats
                image = image.astype(np.float64)
                image = (255 * (image - image.min()) / max(1e-9, np.ptp(image))).astype(np.uint8)
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            elif image.shape[2] == 4:
                image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGR)
            else:
                image = image[:, :, ::-1]
            pictures.append(np.ascontiguousarray(image))
    return pictures


def texture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    kind = rng.integers(5)
    if kind == 0:  # smooth noise
        small = rng.integers(0, 256, (max(2, height // 40), max(2, width // 40), 3), np.uint8)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    if kind == 1:  # stripes
        period = rng.uniform(8, 80)
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:height, 0:width]
        wave = 127 + 100 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
        return cv2.cvtColor(wave.astype(np.uint8), cv2.COLOR_GRAY2BGR)
    if kind == 2:  # random rectangles and circles
        canvas = np.full((height, width, 3), rng.integers(0, 256, 3), np.uint8)
        for _ in range(40):
            color = tuple(int(c) for c in rng.integers(0, 256, 3))
            x, y = int(rng.integers(width)), int(rng.integers(height))
            if rng.random() < 0.5:
                cv2.rectangle(
                    canvas, (x, y), (x + int(rng.integers(10, 200)), y + int(rng.integers(10, 200))), color, -1
                )
            else:
                cv2.circle(canvas, (x, y), int(rng.integers(5, 80)), color, -1)
        return canvas
    if kind == 3:  # fine noise
        return rng.integers(0, 256, (height, width, 3), np.uint8)
    gray = cv2.GaussianBlur(rng.integers(0, 256, (height, width), np.uint8), (0, 0), rng.uniform(1, 6))
    return cv2.cvtColor(cv2.equalizeHist(gray), cv2.COLOR_GRAY2BGR)


def picture_crop(rng: np.random.Generator, pictures: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """A random crop of a random picture, rescaled to the frame (a rescale of the whole picture at times)."""
    picture = pictures[rng.integers(len(pictures))]
    ph, pw = picture.shape[:2]
    if rng.random() < 0.3:
        return cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    share = rng.uniform(0.3, 1.0)
    cw = max(16, int(min(pw, ph * width / height) * share))
    ch = max(16, int(cw * height / width))
    cw, ch = min(cw, pw), min(ch, ph)
    x, y = int(rng.integers(0, pw - cw + 1)), int(rng.integers(0, ph - ch + 1))
    return cv2.resize(picture[y : y + ch, x : x + cw], (width, height), interpolation=cv2.INTER_LINEAR)


def background(rng: np.random.Generator, pictures: list[np.ndarray], width: int, height: int) -> tuple[np.ndarray, str]:
    choice = rng.random()
    if choice < 0.25:
        return np.full((height, width, 3), rng.integers(30, 230, 3), np.uint8), "plain"
    if choice < 0.45:
        ramp = np.linspace(rng.integers(0, 120), rng.integers(130, 256), width, dtype=np.float32)
        gray = np.repeat(ramp[None, :], height, axis=0).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), "gradient"
    if choice < 0.75:
        return picture_crop(rng, pictures, width, height), "picture"
    return texture(rng, width, height), "texture"


def face_frame(rng: np.random.Generator, faces: list[tuple[np.ndarray, int]], pictures: list[np.ndarray]) -> Frame:
    width, height = SIZES[rng.integers(len(SIZES))]
    canvas, kind = background(rng, pictures, width, height)
    short = min(width, height)
    count = int(rng.choice([1, 1, 2, 3, 4, 5]))
    largest = {1: 0.8, 2: 0.45, 3: 0.35, 4: 0.3, 5: 0.25}[count]
    boxes, labels, crops = [], [], []
    for _ in range(count):
        for _attempt in range(30):
            side = int(short * np.exp(rng.uniform(np.log(0.05), np.log(largest))))
            side = max(side, 24)
            cut = rng.random() < 0.15  # reach past the frame's edge by up to a quarter of the face
            lo_x, hi_x = (-side // 4, width - 3 * side // 4) if cut else (0, width - side)
            lo_y, hi_y = (-side // 4, height - 3 * side // 4) if cut else (0, height - side)
            if hi_x <= lo_x or hi_y <= lo_y:
                continue
            x, y = int(rng.integers(lo_x, hi_x + 1)), int(rng.integers(lo_y, hi_y + 1))
            grown = (x - side // 4, y - side // 4, side + side // 2, side + side // 2)
            if all(not _overlap(grown, b) for b in boxes):
                break
        else:
            continue
        face, label = faces[rng.integers(len(faces))]
        scaled = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC if side > 48 else cv2.INTER_AREA)
        scaled = cv2.cvtColor(scaled, cv2.COLOR_GRAY2BGR).astype(np.float32)
        alpha = np.ones((side, side, 1), np.float32)
        if rng.random() < 0.3:  # faded edges instead of a hard square
            ramp = np.minimum(np.arange(side), np.arange(side)[::-1]) / max(1, side * 0.08)
            alpha = np.clip(np.minimum(ramp[None, :], ramp[:, None]), 0, 1)[..., None]
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + side), min(height, y + side)
        region = canvas[y0:y1, x0:x1].astype(np.float32)
        part = scaled[y0 - y : y1 - y, x0 - x : x1 - x]
        a = alpha[y0 - y : y1 - y, x0 - x : x1 - x]
        canvas[y0:y1, x0:x1] = (a * part + (1 - a) * region).astype(np.uint8)
        boxes.append((x, y, side, side))
        labels.append(label)
        crops.append(face)
    return Frame(canvas, boxes, labels, crops, kind)


def _overlap(a, b) -> bool:
    return not (a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1])


def free_frame(rng: np.random.Generator, pictures: list[np.ndarray]) -> Frame:
    width, height = SIZES[rng.integers(len(SIZES))]
    if rng.random() < 0.7:
        image, kind = picture_crop(rng, pictures, width, height), "picture"
    else:
        image, kind = texture(rng, width, height), "texture"
    return Frame(image, [], [], [], kind)


def matches(box, truth) -> bool:
    x, y, w, h = box
    tx, ty, tw, th = truth
    cx, cy = x + w / 2, y + h / 2
    return tx <= cx <= tx + tw and ty <= cy <= ty + th and 0.5 <= w / tw <= 2.0


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
    for kind, (hit, count) in sorted(by_kind.items()):
        print(f"| detection rate, {kind} background | {hit / count:.1%} ({count} faces) |")
    print(f"| face-free frames with a phantom face | {with_phantom / n_free:.1%} |")
    print(f"| phantom faces per face-free frame | {phantoms / n_free:.2f} |")
    print(f"| boxes on no face, per face frame | {extra / len(face_frames):.2f} |")
    print(f"| crop accuracy (48x48 faces) | {crop_accuracy:.1%} |")
    print(f"| end-to-end accuracy (missed = wrong) | {e2e:.1%} |")
    print(f"| end-to-end / crop accuracy | {e2e / crop_accuracy:.2f} |")
    print(f"| ms per frame, mean / p50 / p95 | {np.mean(ms):.1f} / {np.median(ms):.1f} / {np.percentile(ms, 95):.1f} |")


if __name__ == "__main__":
    main()
