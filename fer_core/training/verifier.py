"""Training the face verifier (`fer_core.faces.verifier`) on the cascades' boxes of generated frames."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fer_core.faces.verifier import VERIFIER_PATH, box_crop, normalized
from fer_core.model.classifier import load_network
from fer_core.model.opencv_net import write_opencv_file
from fer_core.model.preprocess import FACE_SIZE

if TYPE_CHECKING:
    import keras


def build_network():
    import keras
    from keras import layers

    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1))
    x = inputs
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(96, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(1, dtype="float32")(x)  # log-odds of "face"
    return keras.Model(inputs, outputs, name="face_verifier")


def _blobs(rng: np.random.Generator, width: int = 640, height: int = 480) -> np.ndarray:
    """Shaded ovals, rings and highlights on a smooth field: the face-sized blobs (spoons, eggs, lamps,
    knobs) on which a loose cascade fires most, and which few sample pictures hold."""
    field = cv2.resize(rng.integers(0, 256, (6, 8), np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    canvas = field.astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(int(rng.integers(3, 12))):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        ax, ay = rng.uniform(10, 150), rng.uniform(10, 150)
        d = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2
        light = rng.uniform(-1, 1, 2)
        shade = rng.uniform(40, 220) + 60 * (light[0] * (xx - cx) / ax + light[1] * (yy - cy) / ay)
        inside = d < 1 if rng.random() < 0.7 else (d < 1) & (d > rng.uniform(0.3, 0.8))
        canvas[inside] = shade[inside]
        if rng.random() < 0.5:  # a highlight
            hx, hy = cx + rng.uniform(-0.5, 0.5) * ax, cy + rng.uniform(-0.5, 0.5) * ay
            canvas += 120 * np.exp(-(((xx - hx) / (0.15 * ax)) ** 2 + ((yy - hy) / (0.15 * ay)) ** 2))
    canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.5, 3))
    return cv2.cvtColor(np.clip(canvas, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def _strokes(rng: np.random.Generator, width: int = 640, height: int = 480) -> np.ndarray:
    """Many shaded strokes of every length, width and direction over a textured field: grass, twigs,
    branches, hair and fur, on which a loose cascade fires and which the sample pictures barely hold."""
    canvas = cv2.resize(rng.integers(0, 256, (12, 16), np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    direction = rng.uniform(0, np.pi)  # most strokes share a direction, as grass does
    spread = rng.uniform(0.1, np.pi)
    scale = rng.uniform(0.3, 3)
    tone, contrast = rng.uniform(40, 220), rng.uniform(20, 120)
    for _ in range(int(rng.integers(150, 900))):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        angle = direction + rng.normal(0, spread)
        length = scale * rng.uniform(10, 120)
        end = (int(x + length * np.cos(angle)), int(y + length * np.sin(angle)))
        thickness = max(1, int(scale * rng.uniform(1, 8)))
        shade = int(np.clip(rng.normal(tone, contrast), 0, 255))
        cv2.line(canvas, (int(x), int(y)), end, shade, thickness, cv2.LINE_AA)
    canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.3, 2.5))
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)


def _pebbles(rng: np.random.Generator, width: int = 640, height: int = 480) -> np.ndarray:
    """Densely packed shaded stones, cells or leaves of one size: gravel, foliage, crowds of small blobs."""
    canvas = np.full((height, width), int(rng.integers(0, 256)), np.uint8)
    size = rng.uniform(6, 60)
    for _ in range(int(3 * width * height / size**2)):
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        axes = (max(2, int(size * rng.uniform(0.4, 1))), max(2, int(size * rng.uniform(0.3, 1))))
        shade = int(rng.integers(0, 256))
        cv2.ellipse(canvas, centre, axes, rng.uniform(0, 180), 0, 360, shade, -1, cv2.LINE_AA)
        cv2.ellipse(canvas, centre, axes, rng.uniform(0, 180), 0, 360, max(0, shade - 60), 1, cv2.LINE_AA)
    canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.3, 2))
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)


def _hard_frame(rng: np.random.Generator, pictures: list[np.ndarray]) -> np.ndarray:
    """A face-free frame of what few sample pictures hold: blobs, strokes, pebbles, or a picture altered."""
    from fer_core.training.synthetic import free_frame

    choice = rng.random()
    if choice < 0.2:
        return _blobs(rng)
    if choice < 0.45:
        return _strokes(rng)
    if choice < 0.6:
        return _pebbles(rng)
    return _altered(rng, free_frame(rng, pictures).image)


def _altered(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """A face-free frame made new: inverted, turned, mirrored, gamma-changed, blurred or zoomed in."""
    choice = rng.integers(6)
    if choice == 5:  # a small part of it blown up: its texture seen at a face's size
        height, width = image.shape[:2]
        share = rng.uniform(0.15, 0.5)
        w, h = int(width * share), int(height * share)
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        return cv2.resize(image[y : y + h, x : x + w], (width, height), interpolation=cv2.INTER_CUBIC)
    if choice == 0:
        return 255 - image
    if choice == 1:
        return np.ascontiguousarray(np.rot90(image, int(rng.integers(1, 4))))
    if choice == 2:
        return np.ascontiguousarray(image[::-1])
    if choice == 3:
        return (255 * (image / 255.0) ** rng.uniform(0.4, 2.5)).astype(np.uint8)
    return cv2.GaussianBlur(image, (0, 0), rng.uniform(1, 4))


def _scrambled(rng: np.random.Generator, face: np.ndarray) -> np.ndarray:
    """A face made a non-face with a face's own grey levels and texture: turned upside down, its 12 px
    blocks shuffled, or its phase scrambled (the same spectrum, no structure). The verifier must learn
    the arrangement of a face, not its brightness or sharpness."""
    choice = rng.integers(3)
    if choice == 0:
        return np.ascontiguousarray(face[::-1])
    if choice == 1:
        blocks = face.reshape(4, 12, 4, 12).transpose(0, 2, 1, 3).reshape(16, 12, 12)[rng.permutation(16)]
        return np.ascontiguousarray(blocks.reshape(4, 4, 12, 12).transpose(0, 2, 1, 3).reshape(FACE_SIZE, FACE_SIZE))
    spectrum = np.fft.fft2(face.astype(np.float32))
    phase = np.angle(np.fft.fft2(rng.random(face.shape)))
    scrambled = np.real(np.fft.ifft2(np.abs(spectrum) * np.exp(1j * phase)))
    return np.clip(scrambled - scrambled.mean() + face.mean(), 0, 255).astype(np.uint8)


def _clutter_pictures() -> list[np.ndarray]:
    """scikit-image's stereo pair of a motorcycle in a garage (BGR): clutter of every shape and size."""
    from skimage import data

    return [np.ascontiguousarray(image[:, :, ::-1]) for image in data.stereo_motorcycle()[:2]]


def crops_from_frames(data: Path, frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The cascades' boxes on generated frames, labelled: 1 on a face, 0 on nothing (boxes that only
    graze a face are left out), plus each face's own square, a little shifted and scaled, so faces the
    cascades frame badly are still seen, and that square scrambled (`_scrambled`) as a non-face. Each
    face frame comes with a face-free frame, and with a face-free frame altered (`_altered`) or of
    blobs (`_blobs`), for more kinds of non-faces than the pictures hold."""
    from fer_core.faces.detection import DetectorSettings, HaarProposals, iou
    from fer_core.training.synthetic import Frame, face_frame, free_frame, load_faces, load_pictures, matches

    faces = load_faces(data / "train", None)
    pictures = load_pictures(None, "tune") + _clutter_pictures()
    # A finer search than a video frame's, so that each face gives the verifier many boxes to learn from.
    proposals, settings = HaarProposals(), DetectorSettings(search="video", scale_factor=1.05, min_window=40)
    crops, labels = [], []
    started = time.perf_counter()
    for i in range(frames):
        hard = _hard_frame(rng, pictures)
        for frame in (face_frame(rng, faces, pictures), free_frame(rng, pictures), Frame(hard, [], [], [], "hard")):
            gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
            for box in (proposal.box for proposal in proposals.propose(gray, settings)):
                if any(matches(box, truth) for truth in frame.boxes):
                    label = 1
                elif all(iou(box, truth) < 0.05 for truth in frame.boxes):
                    label = 0
                else:
                    continue
                crops.append(box_crop(gray, box))
                labels.append(label)
            if not frame.boxes:  # and a few boxes anywhere, at any size
                height, width = gray.shape
                for _ in range(3):
                    side = int(rng.uniform(24, min(height, width) / 2))
                    box = (int(rng.integers(0, width - side)), int(rng.integers(0, height - side)), side, side)
                    crops.append(box_crop(gray, box))
                    labels.append(0)
            for x, y, side, _ in frame.boxes:
                scale = rng.uniform(0.7, 1.05)
                shift = rng.uniform(-0.1, 0.1, 2) * side
                box = (round(x + side * (1 - scale) / 2 + shift[0]), round(y + side * (1 - scale) / 2 + shift[1]),
                       round(side * scale), round(side * scale))  # fmt: skip
                crops.append(box_crop(gray, box))
                labels.append(1)
                crops.append(_scrambled(rng, crops[-1]))
                labels.append(0)
        if (i + 1) % 100 == 0:
            rate = (i + 1) / (time.perf_counter() - started)
            left = (frames - i - 1) / rate
            print(f"  {i + 1}/{frames} frame triples, {len(crops)} boxes, {left:.0f} s left", flush=True)
    return np.stack(crops), np.array(labels, np.float32)


def training_boxes(data: Path, frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The boxes a face-or-not network learns from (`crops_from_frames`), half of them mirrored, and a mask of
    the tenth held out to show how well it learned: crops, labels, held."""
    print(f"generating {frames} face frames and {2 * frames} face-free frames ...", flush=True)
    crops, labels = crops_from_frames(data, frames, rng)
    mirrored = rng.random(len(crops)) < 0.5
    crops[mirrored] = crops[mirrored, :, ::-1]
    held = rng.random(len(crops)) < 0.1
    print(f"{int(labels.sum())} face boxes, {int((1 - labels).sum())} others; {held.sum()} held out", flush=True)
    return crops, labels, held


def class_balance(labels: np.ndarray) -> dict[int, float]:
    """Keras class weights under which the face boxes weigh as much as the others together."""
    return {0: len(labels) / (2 * (1 - labels).sum()), 1: len(labels) / (2 * labels.sum())}


def report_held_out(title: str, logodds: np.ndarray, labels: np.ndarray, thresholds: tuple[float, ...]) -> None:
    """How many held-out face boxes and other boxes reach each log-odds."""
    faces, others = logodds[labels == 1], logodds[labels == 0]
    print(f"{title}: {len(faces)} held-out face boxes, {len(others)} others")
    for threshold in thresholds if len(faces) and len(others) else ():  # a tiny run may hold out none
        print(f"  log-odds >= {threshold}: keeps {np.mean(faces >= threshold):.1%} of faces, "
              f"{np.mean(others >= threshold):.2%} of others")  # fmt: skip


def train(data: Path, out: Path = VERIFIER_PATH, frames: int = 2500, epochs: int = 12, seed: int = 0) -> None:
    from fer_core.model.classifier import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    crops, labels, held = training_boxes(data, frames, np.random.default_rng(seed))
    x = normalized(crops)
    model = build_network()
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    balance = class_balance(labels)
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch: 2e-3 * 0.5 * (1 + np.cos(np.pi * epoch / epochs)))
    model.fit(x[~held], labels[~held], batch_size=128, epochs=epochs, class_weight=balance, callbacks=[schedule],
              validation_data=(x[held], labels[held]), verbose=2)  # fmt: skip
    report_held_out("trained", model.predict(x[held], verbose=0)[:, 0], labels[held], (-2.0, 0.0, 2.0, 4.0))
    out.parent.mkdir(parents=True, exist_ok=True)
    bare = build_network()  # the weights without the optimizer's state
    bare.set_weights(model.get_weights())
    bare.save(out)
    write_opencv_file(out, bare)  # what the detector runs on a CPU, without TensorFlow
    print(f"wrote {out}")


def average(members: list[Path], out: Path = VERIFIER_PATH, weights: list[float] | None = None) -> None:
    """One verifier file whose log-odds are the mean of `members`' (trained on different frames, they
    err on different non-faces), weighted by `weights` (default: equal). A member that is itself a mean
    is opened up into its networks, each with its share, so the file is always one mean of plain
    networks (which `opencv_net` runs as branches added up); each network's share is folded into its
    last (linear) layer, so a plain mean of them gives the weighted one."""
    weights = weights or [1.0] * len(members)
    if len(weights) != len(members) or min(weights) <= 0:
        raise ValueError(f"give one positive weight per member ({len(members)}), not {weights}")
    nets = []  # (a Keras network, its share)
    for path, weight in zip(members, weights):
        nets += _networks(load_network(Path(path)), weight / sum(weights))
    import keras  # imported by load_network

    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1))
    outputs = []
    for i, (net, share) in enumerate(nets):
        last = net.layers[-1]
        kernel, bias = last.get_weights()
        last.set_weights([kernel * share * len(nets), bias * share * len(nets)])
        net.name = f"member_{i}"
        outputs.append(net(inputs))
    model = keras.Model(inputs, keras.layers.Average()(outputs), name="face_verifier")
    model.save(out)
    write_opencv_file(out, model)
    shares = ", ".join(f"{share:.3g}" for _, share in nets)
    print(f"wrote {out}: the mean of {len(nets)} verifier networks, weighted {shares}")


def _networks(model: keras.Model, share: float) -> list[tuple[keras.Model, float]]:
    """The plain networks of a verifier with their shares of its log-odds: itself, or those of a mean."""
    from keras import layers

    if not isinstance(model.layers[-1], layers.Average):
        return [(model, share)]
    members = [layer for layer in model.layers if not isinstance(layer, (layers.InputLayer, layers.Average))]
    return [net for member in members for net in _networks(member, share / len(members))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="FER2013 folder with train/<class>/ images")
    parser.add_argument("--out", type=Path, default=VERIFIER_PATH)
    parser.add_argument("--frames", type=int, default=2500, help="face frames, and twice as many face-free ones")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0, help="of the frames and the network's first weights")
    parser.add_argument("--average", type=Path, nargs="+", metavar="VERIFIER",
                        help="instead of training: write the mean of these trained verifiers to --out")  # fmt: skip
    parser.add_argument("--weights", type=float, nargs="+", help="with --average: one per verifier (default: equal)")
    args = parser.parse_args()
    if args.weights and not args.average:
        parser.error("--weights goes with --average")
    if args.average:
        try:
            average(args.average, args.out, args.weights)
        except ValueError as error:
            parser.error(str(error))
    elif args.data is None:
        parser.error("--data is required to train")
    else:
        train(args.data, args.out, args.frames, args.epochs, args.seed)


if __name__ == "__main__":
    main()
