"""The recipe that trained the shipped models, for any Keras backend (JAX on a GPU, TensorFlow here).

`python -m fer_core train` is the resumable, checkpointing trainer for a CPU; this module holds the
stronger recipe of the shipped networks, which needs hundreds of epochs and so a GPU:

- **members** of the photo model's ensemble: SGD with Nesterov momentum, a warm-up then cosine
  decay, label smoothing, weight averaging (the optimizer's EMA), and augmentation (flips, small
  rotations, shifts, zoom, contrast, random erasing) drawn on the host with OpenCV while the
  accelerator trains (see `AugmentedFaces` for why not Keras' layers);
- **distillation** of a small model (tried for the live model, not shipped): the student reads the
  same augmented batch as a frozen teacher (an ensemble) and learns from both the label and the
  teacher's probabilities.

A run that started from another model's weights (`--init-from`) can be averaged with them
(`average`): the shipped live model is such an average.

Each run writes `model.keras` (the bare network, the same input contract as every project model)
and `history.json`; `python -m fer_core.training.recipe card RUN_DIR --data ...` then scores it on the test
split and writes `evaluation.json` and `model_card.json` beside it.

    KERAS_BACKEND=jax python -m fer_core.training.recipe member --data fer2013 --widths 48,96,192,384 --out runs/a
    KERAS_BACKEND=jax python -m fer_core.training.recipe distill --data fer2013 --teacher T1 T2 T3 --out runs/live
    python -m fer_core.training.recipe average runs/tuned --out runs/averaged
    python -m fer_core.training.recipe card runs/a --data ../shared/fer2013
    python -m fer_core.training.recipe pack --data ../shared/fer2013 --out fer2013.npz   # one file for a GPU box
    python -m fer_core.training.recipe pack --data ../shared/fer2013 --framed --out framed.npz  # + as the app cuts faces
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.model.preprocess import FACE_SIZE


@dataclass
class RecipeConfig:
    data: str
    out: str
    widths: tuple[int, ...] = (48, 96, 192, 384)
    convs_per_block: int = 2
    epochs: int = 120
    batch_size: int = 128
    learning_rate: float = 0.03  # peak, after the warm-up
    warmup_epochs: int = 3
    momentum: float = 0.9
    weight_decay: float = 1e-3  # decoupled (Keras applies lr * wd per step)
    label_smoothing: float = 0.1
    ema_momentum: float = 0.999
    erasing: float = 0.5  # random erasing: the chance a face loses a random patch
    low_res: float = 0.0  # the chance a face is shrunk (to 16-40 px) and grown back, as a small face in a photo is
    seed: int = 1
    # Distillation only: weight of the label's loss (the rest is the teacher's) and the temperature.
    teacher: tuple[str, ...] = ()
    init_from: str | None = None  # start from this model's weights (same widths) instead of random ones
    hard_weight: float = 0.3
    temperature: float = 3.0
    limit: int | None = None  # train on only this many images (smoke tests)
    workers: int = 4  # threads drawing augmented batches
    # Seconds: fit the epoch count to this wall-clock budget, from the second probe epoch's time. Runs
    # started side by side should get --epochs instead: a probe epoch timed while the others are
    # still compiling is too fast (four such runs on the H100 planned 156-258 epochs and managed 145).
    time_budget: float | None = None


class AugmentedFaces:
    """Batches of randomly changed training faces, drawn on the host with NumPy and OpenCV.

    A face keeps its expression under a mirror flip, a small rotation, zoom and shift, a contrast
    change and a small erased patch. These run here rather than as Keras preprocessing layers
    because the layers' affine transforms took 4 s a step under JAX on an H100 (against 7 ms for
    the network's whole step). A batch draws all its random numbers at once (`augment_batch`):
    drawn face by face, Python's overhead held a step at 23 ms and the GPU idle most of the time.
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray, config: RecipeConfig):
        self.images, self.targets, self.config = images, targets, config
        self.batch_size = config.batch_size
        self.epoch = 0
        self.order = np.arange(len(images))

    def __len__(self) -> int:
        return int(np.ceil(len(self.images) / self.batch_size))

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.order = np.random.default_rng((self.config.seed, epoch)).permutation(len(self.images))

    def batch(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng((self.config.seed, self.epoch, index))
        faces = augment_batch(self.images[rows, :, :, 0], rng, self.config.erasing, self.config.low_res)
        return faces[..., None], self.targets[rows]


def warp_matrices(degrees: np.ndarray, scale: np.ndarray, shift: np.ndarray, size: int) -> np.ndarray:
    """(N, 2, 3) affine matrices: cv2.getRotationMatrix2D's turn by `degrees` and zoom by `scale`
    about the centre of a `size` square, for N faces at once, then a move by `shift` (N, 2) pixels."""
    radians = np.deg2rad(degrees)
    cos, sin = scale * np.cos(radians), scale * np.sin(radians)
    centre = size / 2
    top = np.stack([cos, sin, (1 - cos) * centre - sin * centre + shift[:, 0]], axis=1)
    bottom = np.stack([-sin, cos, sin * centre + (1 - cos) * centre + shift[:, 1]], axis=1)
    return np.stack([top, bottom], axis=1)


def augment_batch(
    faces: np.ndarray, rng: np.random.Generator, erasing: float = 0.5, low_res: float = 0.0
) -> np.ndarray:
    """Random variants of (N, S, S) uint8 faces, as float32 in 0-255: each face is mirrored (half of
    them), turned (+-15 degrees), zoomed (0.85-1.15) and shifted (+-12%) with its edge pixels
    repeated into the gap, its contrast scaled (0.7-1.3) about its mean, and with chance `erasing`
    a patch (2-20% of the face, aspect 0.3-3.3) replaced by noise; with chance `low_res` it is then
    shrunk to 16-40 px and grown back, as the app reads a small face in a photo (its random numbers are
    drawn last, and only when asked for: the faces of a run without it are those of before)."""
    import cv2

    n, size = len(faces), faces.shape[1]
    flipped = rng.random(n) < 0.5
    faces = np.where(flipped[:, None, None], faces[:, :, ::-1], faces)
    matrices = warp_matrices(
        rng.uniform(-15, 15, n), rng.uniform(0.85, 1.15, n), rng.uniform(-0.12, 0.12, (n, 2)) * size, size
    )
    out = np.empty((n, size, size), np.float32)
    for i in range(n):
        out[i] = cv2.warpAffine(faces[i], matrices[i], (size, size), borderMode=cv2.BORDER_REPLICATE)
    mean = out.mean(axis=(1, 2), keepdims=True)
    contrast = rng.uniform(0.7, 1.3, (n, 1, 1)).astype(np.float32)
    out = np.clip((out - mean) * contrast + mean, 0, 255)
    # Random erasing: a patch of each chosen face, the patches' sizes and places drawn at once.
    area = rng.uniform(0.02, 0.2, n) * size * size
    aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3), n))
    h = np.minimum(size, np.sqrt(area * aspect).astype(int))
    w = np.minimum(size, np.sqrt(area / aspect).astype(int))
    y = (rng.random(n) * (size - h + 1)).astype(int)
    x = (rng.random(n) * (size - w + 1)).astype(int)
    rows, cols = np.arange(size)[None, :, None], np.arange(size)[None, None, :]
    y, x, h, w, chosen = (a[:, None, None] for a in (y, x, h, w, rng.random(n) < erasing))
    erased = chosen & (rows >= y) & (rows < y + h) & (cols >= x) & (cols < x + w)
    noise = rng.uniform(0, 255, (n, size, size)).astype(np.float32)
    out = np.where(erased, noise, out)
    if low_res:
        small = rng.integers(16, 41, n)
        for i in np.flatnonzero(rng.random(n) < low_res):
            shrunk = cv2.resize(out[i], (int(small[i]), int(small[i])), interpolation=cv2.INTER_AREA)
            out[i] = cv2.resize(shrunk, (size, size), interpolation=cv2.INTER_LINEAR)
    return out


def _py_dataset(faces: AugmentedFaces, workers: int):
    """`faces` as a Keras PyDataset (threads: OpenCV releases the GIL)."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=32)
            faces.start_epoch(0)
            self.epoch = 0

        def __len__(self):
            return len(faces)

        def __getitem__(self, index):
            return faces.batch(index)

        def on_epoch_end(self):
            self.epoch += 1
            faces.start_epoch(self.epoch)

    return Batches()


def load_arrays(data: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 48, 48, 1) uint8 faces and (N,) labels of one split, from a FER2013 folder or CSV, or
    from an `.npz` holding `x_<split>` and `y_<split>` (how the data travels to a GPU box)."""
    if data.endswith(".npz"):
        arrays = np.load(data)
        if f"x_{split}" not in arrays:
            return np.zeros((0, FACE_SIZE, FACE_SIZE, 1), np.uint8), np.zeros(0, np.int64)
        return arrays[f"x_{split}"][..., None], arrays[f"y_{split}"].astype(np.int64)
    from fer_core.datasets import load_split

    dataset = load_split(data, split)
    return dataset.images[..., None], dataset.labels


def _framed_shard(job: tuple[np.ndarray, np.ndarray, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One shard of `framed_copies`, in a process of its own, drawn from a seed of its own: the shard's
    number (so the copies depend on the number of shards, not on the machine)."""
    from dataclasses import replace

    from fer_core.faces.detection import FaceDetector
    from fer_core.model.preprocess import crop_face, to_face_input
    from fer_core.training.synthetic import face_picture, load_pictures, matches

    images, labels, shard, log_every = job
    rng = np.random.default_rng(shard)
    pictures = load_pictures(None, "tune")
    detector = FaceDetector()
    crops, kept, ratios = [], [], []
    for i, (face, label) in enumerate(zip(images, labels)):
        picture, square = face_picture(rng, face, pictures)
        # The photo page's search, its smallest face at 45% of this face (the face at 2-4 times the
        # cascades' window, as in a photo searched from 5% of its side).
        settings = replace(detector.settings, min_face_fraction=0.45 * square[2] / min(picture.shape[:2]))
        boxes = [box for box in detector.detect(picture, settings) if matches(box, square)]
        if boxes:
            crops.append(to_face_input(crop_face(picture, boxes[0])))
            kept.append(label)
            ratios.append(boxes[0][2] / square[2])
        if log_every and (i + 1) % log_every == 0:
            print(f"shard {shard}: {i + 1} of {len(images)} faces, {len(crops)} found", flush=True)
    return np.array(crops, np.uint8).reshape(-1, FACE_SIZE, FACE_SIZE), np.array(kept, np.uint8), np.array(ratios)


def framed_copies(
    images: np.ndarray, labels: np.ndarray, shards: int = 2, log_every: int = 1000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each (N, 48, 48) face as the photo page cuts it out: pasted into a small picture
    (`synthetic.face_picture`, on the backgrounds of the detection benchmark's `tune` half), found by the
    photo detector, and its box cut out. FER2013's crops are framed unevenly (some cut at the brows and
    the mouth, some with hair and shoulders), and the detector's box follows the face, not the crop: a
    network that learned only FER2013's framing reads these boxes less well. Faces the detector misses
    are left out. Returns the crops, their labels and each box's side over the face's (the shards, each
    drawn from its own seed, run in as many processes)."""
    from multiprocessing import get_context

    jobs = [(images[k::shards], labels[k::shards], k, log_every) for k in range(shards)]
    with get_context("spawn").Pool(shards) as pool:  # not fork: OpenCV's threads may be held
        parts = pool.map(_framed_shard, jobs)
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))


def pack(data: str, out: Path, framed: bool = False, shards: int = 2, log=print) -> Path:
    """FER2013's train and test splits as one compressed `.npz` (`x_train`, `y_train`, `x_test`,
    `y_test`), the form `--data` also reads: one file to copy to a GPU box. With `framed`, the train
    split also holds every face as the photo detector cuts it out (`framed_copies`)."""
    arrays = {}
    for split in ("train", "test"):
        x, y = load_arrays(data, split)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x[..., 0], y.astype(np.uint8)
    if framed:
        started = time.perf_counter()
        x, y, ratios = framed_copies(arrays["x_train"], arrays["y_train"], shards)
        off = np.mean((ratios < 0.8) | (ratios > 1.25))
        log(
            f"framed copies: {len(x)} of {len(arrays['x_train'])} faces found, {off:.0%} of the boxes under "
            f"0.8 or over 1.25 times the face's side, {time.perf_counter() - started:.0f} s"
        )
        arrays["x_train"] = np.concatenate([arrays["x_train"], x])
        arrays["y_train"] = np.concatenate([arrays["y_train"], y])
    out = Path(out)
    np.savez_compressed(out, **arrays)
    log(f"{out}: {len(arrays['x_train'])} train and {len(arrays['x_test'])} test faces")
    return out


def _optimizer(config: RecipeConfig, steps_per_epoch: int, epochs: int):
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 20,
        warmup_target=config.learning_rate,
        warmup_steps=config.warmup_epochs * steps_per_epoch,
        decay_steps=max(1, (epochs - config.warmup_epochs) * steps_per_epoch),
    )
    return keras.optimizers.SGD(
        schedule,
        momentum=config.momentum,
        nesterov=True,
        weight_decay=config.weight_decay,
        use_ema=True,
        ema_momentum=config.ema_momentum,
    )


def _student_probs_and_teacher(y_pred):
    n = len(EMOTIONS)
    return y_pred[:, :n], y_pred[:, n:]


def distillation_loss(config: RecipeConfig):
    """Label loss (smoothed cross-entropy) plus the teacher's: KL divergence between the
    temperature-softened teacher and student distributions, scaled by T^2 (Hinton et al., 2015)."""
    import keras
    from keras import ops

    cross_entropy = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    t = config.temperature

    def soften(probs):
        return ops.softmax(ops.log(ops.clip(probs, 1e-7, 1.0)) / t, axis=-1)

    def loss(y_true, y_pred):
        student, teacher = _student_probs_and_teacher(y_pred)
        soft_teacher, soft_student = soften(teacher), soften(student)
        kl = ops.sum(soft_teacher * (ops.log(soft_teacher + 1e-7) - ops.log(soft_student + 1e-7)), axis=-1)
        return config.hard_weight * cross_entropy(y_true, student) + (1 - config.hard_weight) * t * t * ops.mean(kl)

    return loss


def student_accuracy(y_true, y_pred):
    import keras

    return keras.metrics.categorical_accuracy(y_true, _student_probs_and_teacher(y_pred)[0])


def load_teacher(paths: tuple[str, ...]):
    """The teacher: the mean of the given models' probabilities over each face and its mirror image."""
    import keras

    from fer_core.model.ensemble import build_ensemble

    members = [keras.models.load_model(p, compile=False, safe_mode=True) for p in paths]
    teacher = build_ensemble(members, views="flip", name="teacher")
    teacher.trainable = False
    return teacher


def train(config: RecipeConfig, log=print) -> Path:
    """Train one network with the recipe (distilled from `config.teacher` when it names models)."""
    import keras

    from fer_core.model.architecture import build_vgg
    from fer_core.training.trainer import fit_progress

    keras.utils.set_random_seed(config.seed)
    x_train, y_train = load_arrays(config.data, "train")
    x_test, y_test = load_arrays(config.data, "test")
    if config.limit:
        keep = np.random.default_rng(config.seed).permutation(len(x_train))[: config.limit]
        x_train, y_train = x_train[keep], y_train[keep]
    one_hot = np.eye(len(EMOTIONS), dtype=np.float32)
    steps = int(np.ceil(len(x_train) / config.batch_size))

    net = build_vgg(tuple(config.widths), config.convs_per_block)
    if config.init_from:
        net.set_weights(keras.models.load_model(config.init_from, compile=False, safe_mode=True).get_weights())
    trainer, loss, metrics = _trainer(net, config)
    batches = _py_dataset(AugmentedFaces(x_train, one_hot[y_train], config), workers=config.workers)
    history: list[dict] = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
            record["seconds"] = time.perf_counter() - self.started
            record["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            history.append(record)

    verbose, progress = fit_progress(log)
    started, started_at = time.perf_counter(), _now()
    probe_epochs, epochs = 0, config.epochs
    if config.time_budget:
        # Two epochs at the warm-up's starting rate measure this machine's epoch time (the second
        # one, free of compiling); the schedule then gets as many epochs as fit in the budget.
        probe = keras.optimizers.SGD(config.learning_rate / 20, momentum=config.momentum, nesterov=True)
        trainer.compile(optimizer=probe, loss=loss, metrics=metrics)
        trainer.fit(batches, epochs=2, callbacks=[Record(), *progress], verbose=verbose)
        probe_epochs = 2
        left = config.time_budget - (time.perf_counter() - started) - 30  # recompiling and saving
        epochs = max(config.warmup_epochs + 1, int(left / history[-1]["seconds"]))
    config.epochs = probe_epochs + epochs
    log(f"{config.out}: {net.count_params():,} parameters, {len(x_train)} faces, {config.epochs} epochs")
    trainer.compile(optimizer=_optimizer(config, steps, epochs), loss=loss, metrics=metrics)
    # The test split is scored every few epochs for the curves only; the final (weight-averaged)
    # network is what is kept, not a best epoch picked on it.
    validation = (x_test.astype(np.float32), one_hot[y_test]) if len(x_test) else None
    trainer.fit(
        batches,
        initial_epoch=probe_epochs,
        epochs=config.epochs,
        validation_data=validation,
        validation_freq=5,
        callbacks=[Record(), *progress],
        verbose=verbose,
    )
    seconds = time.perf_counter() - started
    out = _write_run(config, net, history, seconds, started_at)
    log(f"{config.out}: done in {seconds:.0f} s")
    return out


def _trainer(net, config: RecipeConfig):
    """(model to fit, loss, metrics): the network alone, or beside the frozen teacher it is distilled from."""
    import keras
    from keras import layers

    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")  # faces augmented on the host
    if config.teacher:
        teacher = load_teacher(config.teacher)
        outputs = layers.Concatenate(name="student_and_teacher")([net(inputs), teacher(inputs)])
        return keras.Model(inputs, outputs, name="trainer"), distillation_loss(config), [student_accuracy]
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    return keras.Model(inputs, net(inputs), name="trainer"), loss, ["accuracy"]


def _write_run(config: RecipeConfig, net, history: list[dict], seconds: float, started_at: str) -> Path:
    """The trained network, its per-epoch history and the run's settings, in `config.out`."""
    # Compile-free copy of the bare network: the same input contract as every project model.
    # (fit() has already swapped the EMA weights in.)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    net.save(out / "model.keras")
    for record in history:  # the dashboard's curves read val_* at every epoch it is present
        record.update({k.replace("student_", ""): v for k, v in record.items() if "student_" in k})
    # A run that started from another model's weights continues that model's curves: its epochs follow
    # the ones in the history beside that model (`epochs_before` says where this run's begin).
    earlier = _history_beside(config.init_from)
    history = earlier + [{**record, "epoch": record["epoch"] + len(earlier)} for record in history]
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    run = {"config": asdict(config), "training_seconds": round(seconds, 1), "backend": _device(), "started": started_at}
    run["epochs_before"] = len(earlier)
    (out / "recipe.json").write_text(json.dumps(run, indent=1) + "\n")
    return out


def _history_beside(model: str | None) -> list[dict]:
    """The per-epoch records in the `history.json` beside `model` (none without one)."""
    if not model:
        return []
    try:
        records = json.loads((Path(model).parent / "history.json").read_text())
    except (OSError, ValueError):
        return []
    return records if isinstance(records, list) else []


def average_with_start(run_dir: Path, out: Path, log=print) -> Path:
    """The mean of a fine-tuned run's weights and those of the model it started from (`--init-from`),
    in equal parts, written to `out` with the run's history and recipe: two points of one training
    path, whose average often reads better than either (weight averaging, as in SWA)."""
    import keras

    import fer_core.model.architecture  # noqa: F401  registers the project's layers before loading

    run_dir, out = Path(run_dir), Path(out)
    recipe = json.loads((run_dir / "recipe.json").read_text())
    start = recipe["config"].get("init_from")
    if not start:
        raise ValueError(f"{run_dir} did not start from another model's weights (--init-from): nothing to average")
    tuned = keras.models.load_model(run_dir / "model.keras", compile=False, safe_mode=True)
    weights = keras.models.load_model(start, compile=False, safe_mode=True).get_weights()
    tuned.set_weights([(a + b) / 2 for a, b in zip(tuned.get_weights(), weights)])
    out.mkdir(parents=True, exist_ok=True)
    tuned.save(out / "model.keras")
    (out / "history.json").write_text((run_dir / "history.json").read_text())
    (out / "recipe.json").write_text(json.dumps({**recipe, "averaged_with": start}, indent=1) + "\n")
    log(f"{out}: the weights of {run_dir} and {start}, averaged")
    return out


def prune(source: str | Path, widths: tuple[int, ...], out: Path, log=print) -> Path:
    """A narrower copy of a trained network (`build_vgg` with `widths`): each convolution keeps the
    output channels that weigh most, the sum of a filter's absolute weights times its batch norm's
    scale (gamma / sqrt(var + eps)), as in Li et al. 2017, "Pruning Filters for Efficient ConvNets";
    the next layer keeps the matching input channels. The cut network reads little until it is
    fine-tuned (`member --init-from`): a start for a smaller model, not one. Writes `model.keras`
    and a card holding the source's training stages (its lineage)."""
    import keras
    from keras import layers

    import fer_core.model.architecture  # noqa: F401  registers the project's layers before loading
    from fer_core.model.architecture import build_vgg
    from fer_core.training.trainer import earlier_stages

    big = keras.models.load_model(source, compile=False, safe_mode=True)
    big_convs = [layer for layer in big.layers if isinstance(layer, layers.Conv2D)]
    if len(big_convs) % len(widths):
        raise ValueError(f"{source} has {len(big_convs)} convolutions: not a whole number per block of {widths}")
    small = build_vgg(tuple(widths), len(big_convs) // len(widths))
    small_convs = [layer for layer in small.layers if isinstance(layer, layers.Conv2D)]

    def norm_after(model, layer):  # every convolution and the hidden dense layer feed a batch norm
        return model.layers[model.layers.index(layer) + 1]

    kept = np.arange(1)  # the input's one channel
    for big_conv, small_conv in zip(big_convs, small_convs):
        kernel = big_conv.get_weights()[0][:, :, kept, :]
        norm = norm_after(big, big_conv)
        gamma, beta, mean, variance = norm.get_weights()
        weight = np.abs(kernel).sum(axis=(0, 1, 2)) * np.abs(gamma) / np.sqrt(variance + norm.epsilon)
        width = small_conv.filters
        if width > len(weight):
            raise ValueError(f"{big_conv.name} has {len(weight)} channels, fewer than the {width} asked for")
        kept = np.sort(np.argsort(-weight, kind="stable")[:width])
        small_conv.set_weights([kernel[..., kept]])
        norm_after(small, small_conv).set_weights([w[kept] for w in (gamma, beta, mean, variance)])
    (big_hidden, big_head), (small_hidden, small_head) = (
        [layer for layer in model.layers if isinstance(layer, layers.Dense)] for model in (big, small)
    )
    small_hidden.set_weights([big_hidden.get_weights()[0][kept]])
    norm_after(small, small_hidden).set_weights(norm_after(big, big_hidden).get_weights())
    small_head.set_weights(big_head.get_weights())
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    small.save(out / "model.keras")
    card = {"name": out.name, "pruned_from": str(source), "widths": list(widths), "stages": earlier_stages(str(source))}
    (out / "model_card.json").write_text(json.dumps(card, indent=1) + "\n")
    log(f"{out}: {big.count_params():,} -> {small.count_params():,} parameters")
    return out


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat()


def _device() -> str:
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return f"jax on {jax.devices()[0].device_kind}"
    except Exception:  # noqa: BLE001 - describing the device is best effort
        pass
    return backend


def write_card(run_dir: Path, data: str, log=print) -> Path:
    """Score a recipe run on the test split of `data` and write its evaluation and model card."""
    from fer_core.model.classifier import Classifier
    from fer_core.reporting.artifacts import CARD_FILE, EVALUATION_FILE, MODEL_FILE
    from fer_core.reporting.evaluation import evaluate_predictions, write_evaluation
    from fer_core.training.trainer import earlier_stages, hardware_description, measured_card_fields, stage_totals

    run_dir = Path(run_dir)
    recipe = json.loads((run_dir / "recipe.json").read_text())
    history = json.loads((run_dir / "history.json").read_text())
    config = recipe["config"]
    x_test, y_test = load_arrays(data, "test")
    classifier = Classifier.load(run_dir / MODEL_FILE)
    evaluation = evaluate_predictions(
        y_test, classifier.predict_batch(x_test).argmax(axis=1), data=f"{data} (test split)"
    )
    write_evaluation(evaluation, run_dir / EVALUATION_FILE)
    log(f"{run_dir.name}: test accuracy {evaluation.accuracy:.4f}, macro-F1 {evaluation.macro_f1:.4f}")
    x_train, y_train = load_arrays(data, "train")
    counts = {
        split: {name: int(n) for name, n in zip(EMOTIONS, np.bincount(labels, minlength=len(EMOTIONS)))}
        for split, labels in (("train_counts", y_train), ("test_counts", y_test))
    }
    kind = "distilled" if config.get("teacher") else "recipe"
    if recipe.get("averaged_with"):
        kind += ", averaged with the weights it started from"
    # A run that started from another model's weights (--init-from) adds its epochs to that model's:
    # the lineage holds that model's stages, then this one, named after the folder it was trained in
    # (a run carded again where it started from, replacing that model, finds itself there: not twice).
    epochs_run = len(history) - recipe.get("epochs_before", 0)  # the history holds the earlier stages' too
    own = {"name": Path(config["out"]).name, "epochs": epochs_run, "seconds": recipe["training_seconds"]}
    stages = [stage for stage in earlier_stages(config.get("init_from")) if stage.get("name") != own["name"]]
    card = {
        "name": run_dir.name,
        "architecture": f"vgg {'-'.join(map(str, config['widths']))} ({kind})",
        "parameters": int(classifier.model.count_params()),
        "file_size_bytes": (run_dir / MODEL_FILE).stat().st_size,
        "input": "48x48 grayscale face crop, uint8",
        "labels": list(EMOTIONS),
        "epochs_run": epochs_run,
        "best_epoch": None,  # no epoch is picked, on test/ or otherwise: `kept` says what is
        "kept": "the last epoch's weight average"
        + (", averaged with the weights it started from" if recipe.get("averaged_with") else ""),
        "training_seconds": recipe["training_seconds"],
        **stage_totals(stages + [own]),
        "hardware": recipe["backend"],
        "data": {"path": str(data), **counts},  # the packed copy the GPU box read was made from it
        "trained": recipe.get("started"),
        "config": config,
        **measured_card_fields(classifier.model, classifier, evaluation, hardware_description()),
    }
    (run_dir / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return run_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fer_core.training.recipe",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    defaults = RecipeConfig(data="", out="")
    for name in ("member", "distill"):
        p = sub.add_parser(name, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument("--data", required=True, help="FER2013 folder, fer2013.csv, or an .npz of x_/y_ train/test")
        p.add_argument("--out", required=True, help="run folder to write model.keras and history.json to")
        p.add_argument("--widths", default=",".join(map(str, defaults.widths)), help="channels of the 4 blocks")
        for field_name in (
            "epochs", "batch_size", "learning_rate", "warmup_epochs", "weight_decay", "label_smoothing",
            "ema_momentum", "erasing", "low_res", "seed", "hard_weight", "temperature", "limit", "workers",
            "time_budget",
        ):  # fmt: skip
            value = getattr(defaults, field_name)
            kind = type(value) if value is not None else int
            p.add_argument("--" + field_name.replace("_", "-"), type=kind, default=value)
        p.add_argument("--init-from", metavar="MODEL", help="start from this model's weights (same --widths)")
        if name == "distill":
            p.add_argument("--teacher", nargs="+", required=True, metavar="MODEL", help="model.keras files to average")
    p = sub.add_parser("card", help="score a run on the test split and write its evaluation and model card")
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("--data", required=True)
    p = sub.add_parser("pack", help="write the train and test splits to one .npz (for a GPU box)")
    p.add_argument("--data", required=True, help="FER2013 folder or fer2013.csv")
    p.add_argument("--out", type=Path, required=True, help="the .npz file to write")
    p.add_argument("--framed", action="store_true", help="add each train face as the photo detector cuts it out")
    p.add_argument("--shards", type=int, default=2, help="with --framed: shards, each its own seed and process")
    p = sub.add_parser("prune", help="a narrower copy of a trained network, to fine-tune (member --init-from)")
    p.add_argument("model", help="the model.keras to prune")
    p.add_argument("--widths", required=True, help="channels of the 4 blocks, each at most the model's")
    p.add_argument("--out", type=Path, required=True, help="folder to write model.keras and its card to")
    p = sub.add_parser("average", help="average a fine-tuned run's weights with those it started from")
    p.add_argument("run", type=Path, metavar="RUN_DIR", help="a run trained with --init-from")
    p.add_argument("--out", type=Path, required=True, help="folder to write model.keras, history and recipe to")
    args = parser.parse_args(argv)
    if args.command == "pack":
        pack(args.data, args.out, args.framed, args.shards)
        return 0
    if args.command == "prune":
        prune(args.model, tuple(int(w) for w in args.widths.split(",")), args.out)
        return 0
    if args.command == "average":
        average_with_start(args.run, args.out)
        return 0
    if args.command == "card":
        for run in args.runs:
            write_card(run, args.data)
        return 0
    options = {k: v for k, v in vars(args).items() if k in RecipeConfig.__dataclass_fields__}
    options["widths"] = tuple(int(w) for w in args.widths.split(","))
    options["teacher"] = tuple(getattr(args, "teacher", None) or ())
    train(RecipeConfig(**options))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
