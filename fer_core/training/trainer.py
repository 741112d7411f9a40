"""Training a classifier on FER2013: data -> augmentation -> model -> fit -> artifacts.

Every epoch ends with a checkpoint (model + optimizer state) and a state file in the work
directory, so a killed run started again with the same command resumes where it stopped.
When training ends, the best epoch's weights become `model.keras` in the output directory,
with `history.json`, `evaluation.json` and `model_card.json` beside it.

Under a `tf.distribute` strategy the same code trains on every replica: Keras splits each global
batch between them. With several workers (`MultiWorkerMirroredStrategy`, one process per worker,
each started with its own `TF_CONFIG`), every worker runs the same command; the chief alone writes
the work directory and the artifacts, and every worker resumes from the chief's checkpoint.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from fer_core.datasets import FaceDataset, load_split
from fer_core.labels import EMOTIONS
from fer_core.reporting.evaluation import evaluate_predictions, write_evaluation


class WorkerLost(RuntimeError):
    """A worker of a multi-worker run stopped answering; the run can be started again to resume."""


@dataclass
class TrainConfig:
    data: str
    out: str = "runs/fer_vgg"  # git ignores runs/: a new run never lands on the shipped models/
    work_dir: str = ".cache/training/fer_vgg"
    architecture: str = "vgg"
    epochs: int = 32
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 5e-4
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    # Weight of class c is (balanced weight)^power: 0 ignores imbalance, 1 fully rebalances.
    class_weight_power: float = 0.25
    patience: int = 10
    seed: int = 1
    limit: int | None = None  # use only this many images of each split (smoke tests)
    steps_per_epoch: int | None = None
    init_from: str | None = None  # start from this model's weights (same architecture) instead of random ones
    extra: dict = field(default_factory=dict)


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Per-class loss weights, normalised so the average sample weight is 1."""
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    balanced = np.where(counts > 0, counts.sum() / (len(EMOTIONS) * np.maximum(counts, 1)), 0.0)
    weights = balanced**power
    return weights / (weights[labels].mean())


def augmentation(seed: int):
    """Random changes a face can undergo and keep its expression (Keras preprocessing layers)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.03, fill_mode="nearest", seed=seed + 1),
            layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed + 2),
            layers.RandomZoom(0.1, fill_mode="nearest", seed=seed + 3),
            layers.RandomContrast(0.2, seed=seed + 4),
        ],
        name="augmentation",
    )


def _subset(dataset: FaceDataset, limit: int | None, seed: int) -> FaceDataset:
    if limit is None or limit >= len(dataset):
        return dataset
    keep = np.sort(np.random.default_rng(seed).permutation(len(dataset))[:limit])
    return FaceDataset(dataset.images[keep], dataset.labels[keep], [dataset.paths[i] for i in keep])


def _tf_datasets(config: TrainConfig, train: FaceDataset, val: FaceDataset, seed: int):
    """Global batches of (augmented face, one-hot label, class weight) for training and of
    (face, one-hot label) for validation, both float32.

    The pipeline does not depend on the strategy: Keras hands each global batch to
    `strategy.experimental_distribute_dataset`, which splits it between the replicas. With several
    workers each worker builds the same pipeline (the same seeded shuffle and augmentation, so the
    same global batches) and keeps its own share of every batch (sharding by DATA: the arrays live
    in memory, there are no files to split between workers), so the workers together see each
    image once per epoch.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    one_hot = np.eye(len(EMOTIONS), dtype=np.float32)
    weights = class_weights(train.labels, config.class_weight_power)[train.labels].astype(np.float32)
    augment = augmentation(seed)
    train_ds = (
        tf.data.Dataset.from_tensor_slices((train.images[..., None], one_hot[train.labels], weights))
        .shuffle(len(train), seed=seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        # One batch at a time: the augmentation layers draw from one seeded random state, so only
        # then does a seed give the same augmented batches in every process (each worker builds
        # this pipeline). Parallel calls race for that state; they saved nothing here (an epoch's
        # augmentation takes ~5 s on 2 cores either way, its training minutes).
        .map(lambda x, y, w: (augment(tf.cast(x, tf.float32), training=True), y, w))
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )
    val_images = val.images[..., None].astype(np.float32)
    val_ds = tf.data.Dataset.from_tensor_slices((val_images, one_hot[val.labels])).batch(256).with_options(options)
    return train_ds, val_ds


def _compile(model, config: TrainConfig, steps_per_epoch: int) -> None:
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10,
        warmup_target=config.learning_rate,
        warmup_steps=config.warmup_epochs * steps_per_epoch,
        decay_steps=max(1, (config.epochs - config.warmup_epochs) * steps_per_epoch),
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )


def _replan_schedule(model, config: TrainConfig, steps_per_epoch: int) -> None:
    """Swap in an optimizer whose schedule ends at the new epoch budget, keeping the old one's
    state (step count, moment estimates), so training continues rather than restarts."""
    old = model.optimizer
    _compile(model, config, steps_per_epoch)
    model.optimizer.build(model.trainable_variables)
    for new_variable, old_variable in zip(model.optimizer.variables, old.variables, strict=True):
        new_variable.assign(old_variable)


class _RunFiles:
    """Paths of one run's work directory."""

    def __init__(self, work_dir: Path):
        self.dir = work_dir
        self.checkpoint = work_dir / "checkpoint.keras"
        self.best_weights = work_dir / "best.weights.h5"
        self.state = work_dir / "state.json"
        self.history = work_dir / "history.json"

    def read_state(self) -> dict:
        return json.loads(self.state.read_text()) if self.state.exists() else {}

    def read_history(self) -> list[dict]:
        return json.loads(self.history.read_text()) if self.history.exists() else []


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def step_progress(log=print, parts: int = 10):
    """A Keras callback that logs each tenth of an epoch: steps done, seconds a step and the time left
    in the epoch. With output to a file Keras says nothing until an epoch ends, and an epoch of the
    photo recipe took 23-24 minutes on a 2-core AVX2 CPU."""
    import keras

    class StepProgress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.started = epoch + 1, time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            steps, done = self.params.get("steps"), batch + 1
            if not steps or done == steps or done % max(1, steps // parts):
                return  # the epoch's own line follows its last step
            each = (time.perf_counter() - self.started) / done
            loss = f", loss {logs['loss']:.3f}" if logs and "loss" in logs else ""
            log(
                f"epoch {self.epoch}: {done} of {steps} steps, {each:.2f} s each{loss}, "
                f"{each * (steps - done) / 60:.1f} min left in the epoch"
            )

    return StepProgress()


def fit_progress(log=print) -> tuple[int, list]:
    """Keras' `verbose` and the callbacks that show a run's progress: Keras' own bar on a terminal;
    to a file (a long run in the background), a line per epoch and `step_progress`'s within it."""
    if sys.stdout.isatty():
        return 1, []
    return 2, [step_progress(log)]


def _epoch_callback(files: _RunFiles, config: TrainConfig, state: dict):
    """A Keras callback that records history, checkpoints, keeps the best weights and stops early."""
    import keras

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            record = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items() if k != "learning_rate"}}
            record["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            record["seconds"] = time.perf_counter() - self.started
            history = [h for h in files.read_history() if h["epoch"] <= epoch] + [record]
            _write_atomic(files.history, json.dumps(history, indent=1) + "\n")

            score = record.get("val_accuracy", record.get("accuracy", 0.0))
            if score > state.get("best_score", -1.0):
                state.update(best_score=score, best_epoch=epoch + 1, wait=0)
                self.model.save_weights(files.best_weights)
            else:
                state["wait"] = state.get("wait", 0) + 1
            state["epoch"] = epoch + 1
            if state["wait"] >= config.patience:
                state["stopped_early"] = True
                self.model.stop_training = True
            # Checkpoint first, then the state that points at it: a kill in between only
            # repeats this epoch's bookkeeping, never loses the epoch. Each file is written
            # beside its final name and renamed, so a kill mid-write leaves the old one whole.
            partial = files.checkpoint.with_name("checkpoint.partial.keras")
            self.model.save(partial)
            os.replace(partial, files.checkpoint)
            _write_atomic(files.state, json.dumps(state, indent=1) + "\n")

    return EpochEnd()


def train(config: TrainConfig, strategy=None, log=print) -> Path | None:
    """Train (or resume) and write the artifacts; return the output directory, or None on a
    worker that is not the chief (the chief writes them)."""
    from fer_core.model.classifier import import_tensorflow

    tf = import_tensorflow()
    import keras

    from fer_core.model.architecture import ARCHITECTURES

    if config.architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {config.architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    strategy = strategy or tf.distribute.get_strategy()
    # Every worker keeps the same checkpoints in step (saving reads variables that the workers
    # synchronise), but only the chief's land in --work-dir; the others' go to a scratch folder.
    chief = strategy.extended.should_checkpoint
    files = _RunFiles(Path(config.work_dir))
    written = files if chief else _RunFiles(Path(tempfile.mkdtemp(prefix="fer_worker_")))
    written.dir.mkdir(parents=True, exist_ok=True)
    state = files.read_state()
    # A resumed run seeds its shuffling and augmentation with the epoch it resumes at, so it
    # goes on to new random draws instead of replaying the ones of its first epochs.
    keras.utils.set_random_seed(config.seed + state.get("epoch", 0))

    log(f"reading {config.data} ...")
    train_set = _subset(load_split(config.data, "train"), config.limit, config.seed)
    val_set = _subset(load_split(config.data, "test"), config.limit, config.seed)
    log(f"train: {len(train_set)} images, validation: {len(val_set)} images")
    train_ds, val_ds = _tf_datasets(config, train_set, val_set, seed=config.seed + state.get("epoch", 0))
    steps = config.steps_per_epoch or int(np.ceil(len(train_set) / config.batch_size))
    replicas = strategy.num_replicas_in_sync
    log(
        f"{type(strategy).__name__}: {replicas} replica(s), each takes {config.batch_size // replicas} "
        f"of every batch of {config.batch_size}" + ("" if chief else " (a worker: the chief writes the files)")
    )

    if state and state.get("config", {}).get("data") not in (None, config.data):
        raise ValueError(f"{files.dir} holds a run on other data; pick another --work-dir")
    finished = state.get("stopped_early") or state.get("epoch", 0) >= config.epochs
    with strategy.scope():
        model, state = _resumed_or_new(config, files, state, steps, finished, log)
    state["distribution"] = {"strategy": type(strategy).__name__, "replicas": replicas}
    if config.steps_per_epoch:
        train_ds = train_ds.repeat()
    verbose, progress = fit_progress(log)
    try:
        if not finished:
            model.fit(
                train_ds,
                validation_data=val_ds,
                epochs=config.epochs,
                initial_epoch=state["epoch"],
                steps_per_epoch=config.steps_per_epoch,
                callbacks=[_epoch_callback(written, config, state), *progress],
                shuffle=False,  # the pipeline shuffles
                verbose=verbose,
            )
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as error:
        # A worker died or its network went away: the others cannot go on alone. TensorFlow's
        # answer is to restart the whole cluster, so say how, and from where it will resume.
        raise WorkerLost(
            f"lost contact with a worker ({error.message.splitlines()[0]}); start every worker again "
            f"with the same command and they resume from epoch {files.read_state().get('epoch', 0)}"
        ) from None
    finally:
        if not chief:
            shutil.rmtree(written.dir, ignore_errors=True)
    if not chief:
        return None
    return write_artifacts(config, files, train_set, val_set, log)


def _resumed_or_new(config: TrainConfig, files: _RunFiles, state: dict, steps: int, finished: bool, log):
    """The model and run state to go on from: the checkpoint's when there is one, else a new compiled model."""
    import keras

    from fer_core.model.architecture import ARCHITECTURES

    if state and files.checkpoint.exists():
        log(f"resuming from epoch {state['epoch']} (checkpoint {files.checkpoint})")
        model = keras.models.load_model(files.checkpoint)
        planned = state["config"].get("epochs")
        if planned != config.epochs and not finished:
            log(f"epoch budget changed from {planned} to {config.epochs}: the learning-rate schedule is re-planned")
            _replan_schedule(model, config, steps)
            state["config"]["epochs"] = config.epochs
        return model, state
    state = {"config": asdict(config), "started": datetime.now(timezone.utc).isoformat(), "epoch": 0}
    model = ARCHITECTURES[config.architecture]()
    if config.init_from:
        log(f"starting from the weights of {config.init_from}")
        model.set_weights(keras.models.load_model(config.init_from, compile=False).get_weights())
    _compile(model, config, steps)
    return model, state


def write_artifacts(
    config: TrainConfig, files: _RunFiles, train_set: FaceDataset, val_set: FaceDataset, log=print
) -> Path:
    """Best weights -> a compact model.keras plus history, evaluation and model card."""
    from fer_core.model.architecture import ARCHITECTURES
    from fer_core.model.classifier import Classifier

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    model = ARCHITECTURES[config.architecture]()
    model.load_weights(files.best_weights)
    model.save(out / "model.keras")  # not compiled: weights only, no optimizer state
    shutil.copy(files.history, out / "history.json")

    classifier = Classifier.load(out / "model.keras")
    probs = classifier.predict_batch(val_set.images[..., None])
    evaluation = evaluate_predictions(val_set.labels, probs.argmax(axis=1), data=str(config.data) + " (test split)")
    write_evaluation(evaluation, out / "evaluation.json")
    log(f"test accuracy {evaluation.accuracy:.4f}, macro-F1 {evaluation.macro_f1:.4f}")

    state = files.read_state()
    history = files.read_history()
    hardware = hardware_description()
    seconds = round(sum(h["seconds"] for h in history), 1)
    stages = earlier_stages(config.init_from) + [{"name": out.name, "epochs": len(history), "seconds": seconds}]
    card = {
        "name": out.name,
        "architecture": config.architecture,
        "parameters": int(model.count_params()),
        "file_size_bytes": (out / "model.keras").stat().st_size,
        "input": "48x48 grayscale face crop, uint8",
        "labels": list(EMOTIONS),
        "epochs_run": len(history),
        "best_epoch": state.get("best_epoch"),
        "best_val_accuracy": state.get("best_score"),
        "stopped_early": bool(state.get("stopped_early")),
        "training_seconds": seconds,
        **stage_totals(stages),
        "hardware": hardware,
        "distribution": state.get("distribution"),
        "data": {
            "path": str(config.data),
            "train_counts": train_set.class_counts(),
            "test_counts": val_set.class_counts(),
        },
        "trained": state.get("started"),
        "config": asdict(config),
        **measured_card_fields(model, classifier, evaluation, hardware),
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    return out


def training_stages(card: dict) -> list[dict]:
    """The training runs that made a model, oldest first, as its card records them:
    {"name", "epochs", "seconds"} each (a card older than this record counts as one run)."""
    if isinstance(card.get("stages"), list):
        return card["stages"]
    return [{"name": card.get("name"), "epochs": card.get("epochs_run"), "seconds": card.get("training_seconds")}]


def earlier_stages(init_from: str | None) -> list[dict]:
    """The stages behind the model a run starts from (--init-from), read from the card beside it;
    a model without a card is one stage of unknown length."""
    if not init_from:
        return []
    card = Path(init_from).parent / "model_card.json"
    try:
        return training_stages(json.loads(card.read_text()))
    except (OSError, ValueError, AttributeError):
        return [{"name": Path(init_from).parent.name, "epochs": None, "seconds": None}]


def stage_totals(stages: list[dict]) -> dict:
    """The card's lineage: every stage, and the epochs and seconds of all of them (None when a
    stage did not record its own)."""
    epochs = [stage.get("epochs") for stage in stages]
    seconds = [stage.get("seconds") for stage in stages]
    return {
        "stages": stages,
        "total_epochs": None if None in epochs else sum(epochs),
        "total_training_seconds": None if None in seconds else round(sum(seconds), 1),
    }


def measured_card_fields(model, classifier, evaluation, hardware: str) -> dict:
    """The model card's entries measured when the model is written: scores, speed, software, summary."""
    return {
        "finished": datetime.now(timezone.utc).isoformat(),
        "test_accuracy": evaluation.accuracy,
        "test_macro_f1": evaluation.macro_f1,
        "ms_per_face": round(classifier.time_single_face(), 3),
        "ms_per_face_measured_on": hardware,
        "software": software_versions(),
        "summary": model_summary(model),
    }


def hardware_description() -> str:
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores"
    return text + (f", GPU: {', '.join(gpus)}" if gpus else ", no GPU")


def software_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__}


def model_summary(model) -> list[str]:
    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line), line_length=120)
    return lines


def make_strategy(name: str = "default"):
    """The tf.distribute strategy named on the command line."""
    from fer_core.model.classifier import import_tensorflow

    tf = import_tensorflow()
    if name == "mirrored":
        # Every GPU; without one, every logical CPU (one, unless the CPU was split into several
        # with tf.config.set_logical_device_configuration before TensorFlow started).
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi-worker":
        return _multi_worker_strategy(tf)
    return tf.distribute.get_strategy()


def _multi_worker_strategy(tf):
    """`MultiWorkerMirroredStrategy` made to work with Keras 3's `fit` (keras-team/keras#20585).

    Keras 3.x's TensorFlow trainer calls `strategy.reduce` on a whole (faces, labels, weights)
    batch to learn its shapes, and with `axis=0` on the per-replica scalar metrics. The collective
    strategy reduces one tensor of at least one dimension at a time, so `fit` stopped at once
    with "Attempt to convert a value (PerReplica...) to a Tensor". This one reduces each tensor
    of a structure on its own and scalars across replicas, which is what Keras asks for.
    """

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            def reduce_one(tensor):
                rank = self.experimental_local_results(tensor)[0].shape.rank
                return super(MultiWorkerMirroredStrategy, self).reduce(reduce_op, tensor, None if rank == 0 else axis)

            return tf.nest.map_structure(reduce_one, value)

    return MultiWorkerMirroredStrategy()
