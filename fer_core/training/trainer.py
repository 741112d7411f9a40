"""The one trainer: `python -m fer_core train` runs the recipe that made every shipped network.

The recipe: a VGG-style network (`architecture.build_vgg`), SGD with Nesterov momentum, a warm-up then
cosine decay, label smoothing, decoupled weight decay, a moving average of the weights (the
optimizer's EMA, which is what a run keeps) and faces augmented on the host (`augment`). A stage may
also learn from a frozen teacher (`distillation`), start from a trained model (or its pruned copy),
train on the faces as the photo detector cuts them out (`framed`), also train on real photos as the app
cuts them (`real_photos`), weigh the classes against their imbalance (`class_balance`), and end averaged
with the weights it started from. A recipe is one stage or several, each starting from the one before; each shipped
model's folder holds the recipe that made it (`recipe.json`).

Model selection and early stopping read a validation split carved out of train/ (`data.validation_split`):
the epoch whose weight average reads it best is kept, and a stage stops after `patience` epochs
without a better one. With `validation_fraction` 0 the last epoch's average is kept. With a held-out list
of real photos (`real_photos_holdout`), each epoch also reads those photos through the app's crop, and the
score that picks the epoch is the mean of the validation accuracy and the held-out photos' accuracy and
macro-F1 (a photo whose face the search misses counts as wrong). test/ is read once, by the model card,
after training.

Every epoch ends with a checkpoint (weights and optimizer state) in the work folder, so a killed run
started again with the same command resumes where it stopped. Under a `tf.distribute` strategy the
same code trains on every replica; with several workers (`MultiWorkerMirroredStrategy`, one process per
worker, each with its own `TF_CONFIG`) every worker runs the same command, the chief alone writes the
work folder and the model, and every worker resumes from the chief's checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.model.preprocess import FACE_SIZE
from fer_core.training.augment import Augmentation, AugmentedFaces
from fer_core.training.data import class_weights, load_arrays, validation_split


class WorkerLost(RuntimeError):
    """A worker of a multi-worker run stopped answering; the run can be started again to resume."""


@dataclass
class Stage:
    """One training run of the recipe. The defaults train the live model's width on a CPU in about an hour."""

    widths: tuple[int, ...] = (32, 64, 128, 256)  # channels of the network's blocks
    convs_per_block: int = 2
    epochs: int = 30
    batch_size: int = 128  # over all replicas
    learning_rate: float = 0.03  # peak, after the warm-up
    warmup_epochs: int = 3
    momentum: float = 0.9
    weight_decay: float = 1e-3  # decoupled (Keras applies lr * wd per step)
    label_smoothing: float = 0.1
    ema_momentum: float = 0.999
    erasing: float = 0.5
    low_res: float = 0.0
    degrees: float = 15.0  # the affine step's turn, zoom and shift (the detector's box jitter)
    zoom: float = 0.15
    shift: float = 0.12
    contrast: float = 0.3
    blur: float = 0.0  # real-photo steps (`augment`), off by default
    blur_sigma: tuple[float, float] = (0.6, 1.4)
    jpeg: float = 0.0
    jpeg_quality: tuple[int, int] = (25, 90)
    gamma: float = 0.0
    brightness: float = 0.0
    side_light: float = 0.0
    noise: float = 0.0
    grey_weights: float = 0.0  # real photos: the grey mix's random channel weights (0: the app's grey)
    seed: int = 1
    validation_fraction: float = 0.1  # of each class of train/, held out to pick the epoch and stop early
    patience: int = 10  # epochs without a better validation score before the stage stops
    framed: bool = False  # also train on every face as the photo detector cuts it out (slow: minutes a thousand faces)
    init_from: str | None = None  # a trained model to start from (the first stage only; later ones start from the last)
    prune: bool = False  # start from init_from cut down to `widths` (the filters that weigh most)
    average_with_start: bool = False  # end averaged in equal parts with the weights the stage started from
    teacher: tuple[str, ...] = ()  # models to distil from (their mirrored-view average)
    hard_weight: float = 0.3  # distillation: the label's share of the loss
    temperature: float = 3.0
    real_photos: str | None = None  # a folder of <class>/<image> real photos ...
    real_photos_list: str | None = None  # ... a file naming those to train on (the rest is never read for training)
    real_photos_holdout: str | None = None  # ... a file naming those to report each epoch and pick the epoch by
    real_repeat: int = 1  # times each real photo's faces enter an epoch
    class_balance: float = 0.0  # loss weight of a class: (largest class count / its count) ** class_balance
    precision: str = "float32"  # Keras' dtype policy while training ("mixed_bfloat16": faster on recent CPUs)

    def augmentation(self) -> Augmentation:
        names = {f.name for f in fields(Augmentation)} & {f.name for f in fields(self)}
        return Augmentation(**{name: getattr(self, name) for name in names})

    @classmethod
    def from_dict(cls, data: dict) -> Stage:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown recipe setting(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        for name in ("widths", "teacher", "blur_sigma", "jpeg_quality"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


@dataclass
class Run:
    """Where a recipe reads and writes, and the limits of a quick trial."""

    data: str
    out: str = "runs/fer_model"  # git ignores runs/: a new run never lands on the shipped models/
    work_dir: str = ".cache/training/fer_model"
    limit: int | None = None  # use only this many faces of each split (smoke tests)
    steps_per_epoch: int | None = None  # cap each epoch's steps (smoke tests)
    stages: list[Stage] = field(default_factory=lambda: [Stage()])


def read_recipe(path: str | Path) -> list[Stage]:
    """The stages of a recipe file: `{"stages": [{...}, ...]}` or one stage's settings."""
    data = json.loads(Path(path).read_text())
    stages = data.get("stages", [data]) if isinstance(data, dict) else None
    if not isinstance(stages, list) or not stages or not all(isinstance(s, dict) for s in stages):
        raise ValueError(f'{path} is not a recipe: expected {{"stages": [{{...}}]}}')
    return [Stage.from_dict(s) for s in stages]


def recipe_dict(stages: list[Stage], name: str | None = None) -> dict:
    """A recipe as `recipe.json` stores it: every setting of every stage, so a later change of a
    default never changes what a stored recipe trains (a stage's start is named only when set)."""
    listed = [{k: v for k, v in json.loads(json.dumps(asdict(s))).items() if k != "init_from"} for s in stages]
    for stage, entry in zip(stages, listed):
        if stage.init_from:
            entry["init_from"] = stage.init_from
    return {**({"name": name} if name else {}), "stages": listed}


def step_progress(log=print, parts: int = 10):
    """A Keras callback that logs each tenth of an epoch: steps done, seconds a step and the time left
    in the epoch (with output to a file Keras says nothing until an epoch ends)."""
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
    """Keras' `verbose` and the callbacks that show progress: Keras' bar on a terminal; to a file,
    a line per epoch and `step_progress`'s within it."""
    if sys.stdout.isatty():
        return 1, []
    return 2, [step_progress(log)]


class _StageFiles:
    """Paths of one stage's work folder."""

    def __init__(self, folder: Path):
        self.dir = folder
        self.weights = folder / "checkpoint.weights.h5"  # the network's weights as training left them
        self.optimizer = folder / "optimizer.npz"  # the optimizer's variables (step, momenta, averages)
        self.best = folder / "best.weights.h5"  # the weight average of the best epoch so far
        self.last = folder / "last.weights.h5"  # the weight average of the last epoch
        self.state = folder / "state.json"
        self.history = folder / "history.json"
        self.result = folder / "model.keras"  # the stage's finished network

    def read_state(self) -> dict:
        return json.loads(self.state.read_text()) if self.state.exists() else {}

    def read_history(self) -> list[dict]:
        return json.loads(self.history.read_text()) if self.history.exists() else []


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _optimizer(stage: Stage, steps_per_epoch: int):
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=stage.learning_rate / 20,
        warmup_target=stage.learning_rate,
        warmup_steps=stage.warmup_epochs * steps_per_epoch,
        decay_steps=max(1, (stage.epochs - stage.warmup_epochs) * steps_per_epoch),
    )
    return keras.optimizers.SGD(
        schedule,
        momentum=stage.momentum,
        nesterov=True,
        weight_decay=stage.weight_decay,
        use_ema=True,
        ema_momentum=stage.ema_momentum,
    )


def _averaged_weights(net, optimizer) -> list[np.ndarray]:
    """The network's weights with each trainable one replaced by the optimizer's moving average of it."""
    averages = {id(v): a for v, a in zip(optimizer._trainable_variables, optimizer._model_variables_moving_average)}
    return [np.asarray(averages.get(id(w), w).numpy()) for w in net.weights]


def _holdout_scores(net, photos) -> dict:
    """The held-out real photos read by `net` through the app's crop (a photo without a face found counts
    as wrong) and as whole photos: accuracy and macro-F1 over the classes present."""
    from fer_core.reporting.evaluation import evaluate_predictions

    def predicted(faces: np.ndarray) -> np.ndarray:
        return np.asarray(net.predict(faces[..., None].astype(np.float32), batch_size=256, verbose=0)).argmax(1)

    crops = evaluate_predictions(photos.labels, np.where(photos.found, predicted(photos.crops), -1))
    return {
        "real_accuracy": crops.accuracy,
        "real_macro_f1": crops.macro_f1,
        "real_whole_accuracy": float(np.mean(predicted(photos.whole) == photos.labels)),
    }


def _epoch_callback(files: _StageFiles, net, stage: Stage, state: dict, validate: bool, holdout=None, log=print):
    """A Keras callback that records history, checkpoints, keeps the best weight average and stops early.
    With `holdout` (real photos), it also scores them and picks the epoch by `score`."""
    import keras

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            record = {"epoch": epoch + 1, **{k.replace("student_", ""): float(v) for k, v in logs.items()}}
            record["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            record["seconds"] = time.perf_counter() - self.started

            current = [np.asarray(w.numpy()) for w in net.weights]
            net.set_weights(_averaged_weights(net, self.model.optimizer))
            net.save_weights(files.last)
            score = record.get("val_accuracy") if validate else None
            if holdout is not None:
                record.update(_holdout_scores(net, holdout))
                if score is not None:
                    record["score"] = score = (score + record["real_accuracy"] + record["real_macro_f1"]) / 3
                log(
                    f"epoch {epoch + 1}: validation accuracy {record.get('val_accuracy', float('nan')):.4f}, "
                    f"held-out real photos {record['real_accuracy']:.4f} (macro-F1 {record['real_macro_f1']:.4f}, "
                    f"whole photos {record['real_whole_accuracy']:.4f}), score {record.get('score', float('nan')):.4f}"
                )
            history = [h for h in files.read_history() if h["epoch"] <= epoch] + [record]
            _write_atomic(files.history, json.dumps(history, indent=1) + "\n")
            if score is not None and score > state.get("best_score", -1.0):
                state.update(best_score=score, best_epoch=epoch + 1, wait=0)
                net.save_weights(files.best)
            elif validate:
                state["wait"] = state.get("wait", 0) + 1
            net.set_weights(current)
            state["epoch"] = epoch + 1
            if validate and state["wait"] >= stage.patience:
                state["stopped_early"] = True
                self.model.stop_training = True
            # The checkpoint first, then the state that points at it: a kill in between only repeats
            # this epoch's bookkeeping. Each file is written beside its final name and renamed.
            partial = files.weights.with_name("checkpoint.partial.weights.h5")
            net.save_weights(partial)
            os.replace(partial, files.weights)
            optimizer = {f"v{i}": np.asarray(v.numpy()) for i, v in enumerate(self.model.optimizer.variables)}
            with open(files.optimizer.with_name("optimizer.partial.npz"), "wb") as handle:
                np.savez(handle, **optimizer)
            os.replace(files.optimizer.with_name("optimizer.partial.npz"), files.optimizer)
            _write_atomic(files.state, json.dumps(state, indent=1) + "\n")

    return EpochEnd()


def _batches(faces: AugmentedFaces, steps: int, first_epoch: int):
    """The augmented batches as a tf.data pipeline: `steps` batches an epoch from `first_epoch` on.

    Each worker of a multi-worker run builds the same pipeline (the same seeded batches) and keeps its
    own share of every batch (sharding by data: the arrays live in memory, there are no files to split)."""
    import tensorflow as tf

    def generate():
        epoch = first_epoch
        while True:
            faces.start_epoch(epoch)
            for index in range(steps):
                yield faces.batch(index % len(faces))
            epoch += 1

    signature = (
        tf.TensorSpec((None, FACE_SIZE, FACE_SIZE, 1), tf.float32),
        tf.TensorSpec((None, len(EMOTIONS)), tf.float32),
    ) + ((tf.TensorSpec((None,), tf.float32),) if faces.sample_weights is not None else ())
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2).with_options(options)


def _validation(images: np.ndarray, labels: np.ndarray):
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    one_hot = np.eye(len(EMOTIONS), dtype=np.float32)[labels]
    return tf.data.Dataset.from_tensor_slices((images.astype(np.float32), one_hot)).batch(256).with_options(options)


def _subset(images: np.ndarray, labels: np.ndarray, limit: int | None, seed: int):
    if limit is None or limit >= len(labels):
        return images, labels
    keep = np.sort(np.random.default_rng(seed).permutation(len(labels))[:limit])
    return images[keep], labels[keep]


def _framed(work_dir: Path, images: np.ndarray, labels: np.ndarray, log) -> tuple[np.ndarray, np.ndarray]:
    """The training faces as the photo detector cuts them out (`data.framed_copies`), made once and kept
    in the work folder."""
    from fer_core.training.data import framed_copies

    cache = work_dir / f"framed_{len(labels)}.npz"
    if not cache.exists():
        log(f"cutting {len(labels)} faces out as the photo detector does (kept in {cache}) ...")
        x, y, _ = framed_copies(images[..., 0], labels.astype(np.uint8))
        np.savez_compressed(cache, x=x, y=y)
    arrays = np.load(cache)
    return arrays["x"][..., None], arrays["y"].astype(np.int64)


def _real_photo_lists(stage: Stage) -> tuple[list[str], list[str]]:
    """The photos a stage trains on and holds out, after checking that its real-photo settings can be
    read (ValueError with what to give otherwise); ([], []) for a stage without real photos."""
    from fer_core.training.data import read_photo_list

    if not stage.real_photos:
        if stage.real_photos_list or stage.real_photos_holdout:
            raise ValueError("real_photos_list and real_photos_holdout need real_photos (the photos' folder)")
        return [], []
    if not Path(stage.real_photos).is_dir():
        raise ValueError(
            f"no real photos at {stage.real_photos}: give the folder of <class>/<image> photos (--real-photos)"
        )
    listed = read_photo_list(stage.real_photos_list) if stage.real_photos_list else []
    held = read_photo_list(stage.real_photos_holdout) if stage.real_photos_holdout else []
    if set(listed) & set(held):
        raise ValueError(f"{stage.real_photos_holdout} names photos that {stage.real_photos_list} trains on")
    return listed, held


def _real_photos(stage: Stage, work_dir: Path, log) -> tuple:
    """The stage's real photos: (training faces grey, BGR, labels) repeated `real_repeat` times, or None;
    and the held-out photos (`data.RealPhotos`), or None."""
    from fer_core.training.data import real_photos

    listed, held = _real_photo_lists(stage)
    if not stage.real_photos:
        return None, None
    training = holdout = None
    if listed:
        grey, colour, labels = real_photos(stage.real_photos, listed, work_dir, log).training_faces()
        training = tuple(np.concatenate([a] * stage.real_repeat) for a in (grey, colour, labels))
    if held:
        holdout = real_photos(stage.real_photos, held, work_dir, log)
    return training, holdout


def _float32_copy(net, stage: Stage):
    """`net` (trained under a mixed precision policy) as a float32 network, the form every project model has."""
    import keras

    from fer_core.model.architecture import build_vgg

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = build_vgg(tuple(stage.widths), stage.convs_per_block)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    copy.set_weights([np.asarray(w, np.float32) for w in net.get_weights()])
    return copy


def _start_weights(stage: Stage, start: str | None, net):
    """Set `net` to the weights it starts from: a trained model's, or its pruned copy (`stage.prune`)."""
    if not start:
        return
    from fer_core.model.classifier import load_model
    from fer_core.training.weights import pruned_weights

    source = load_model(start)
    net.set_weights(pruned_weights(source, net) if stage.prune else source.get_weights())


def train_stage(run: Run, stage: Stage, number: int, start: str | None, strategy, log=print) -> Path | None:
    """Train (or resume) one stage; return the folder of its finished network, or None on a worker
    that is not the chief."""
    from fer_core.model.classifier import import_tensorflow

    tf = import_tensorflow()
    import keras

    from fer_core.model.architecture import build_vgg
    from fer_core.training.distillation import trainer_model

    files = _StageFiles(Path(run.work_dir) / f"stage_{number}")
    chief = strategy.extended.should_checkpoint
    # Every worker keeps checkpoints in step, but only the chief's land in the work folder.
    written = files if chief else _StageFiles(Path(tempfile.mkdtemp(prefix="fer_worker_")))
    written.dir.mkdir(parents=True, exist_ok=True)
    state = files.read_state()
    if state.get("finished") and (state.get("stopped_early") or state["epoch"] >= stage.epochs):
        log(f"stage {number}: finished earlier ({files.result})")
        return files.dir
    state.pop("finished", None)
    keras.utils.set_random_seed(stage.seed + state.get("epoch", 0))

    images, labels = _subset(*load_arrays(run.data, "train"), run.limit, stage.seed)
    fit_rows, held = validation_split(labels, stage.validation_fraction)
    x_val, y_val = images[held], labels[held]
    x_train, y_train = images[fit_rows], labels[fit_rows]
    if stage.framed:
        x_framed, y_framed = _framed(files.dir, x_train, y_train, log)
        x_train, y_train = np.concatenate([x_train, x_framed]), np.concatenate([y_train, y_framed])
    real, holdout = _real_photos(stage, Path(run.work_dir), log)
    colour = None
    if real is not None:  # appended last: `AugmentedFaces` finds their colour copies at the end
        x_train = np.concatenate([x_train, real[0][..., None]])
        y_train, colour = np.concatenate([y_train, real[2]]), real[1]
    sample_weights = None
    if stage.class_balance:
        weights = class_weights(y_train, stage.class_balance)
        sample_weights = weights[y_train]
        log(f"stage {number}: class weights {', '.join(f'{e} {w:.2f}' for e, w in zip(EMOTIONS, weights))}")
    steps = run.steps_per_epoch or int(np.ceil(len(y_train) / stage.batch_size))
    replicas = strategy.num_replicas_in_sync
    log(
        f"stage {number}: {len(y_train)} training faces"
        + (f" ({len(real[2])} from real photos)" if real is not None else "")
        + f", {len(y_val)} validation faces"
        + (f", {len(holdout.labels)} held-out real photos" if holdout is not None else "")
    )
    log(
        f"{type(strategy).__name__}: {replicas} replica(s), each takes {stage.batch_size // replicas} of every batch "
        f"of {stage.batch_size}" + ("" if chief else " (a worker: the chief writes the files)")
    )

    settings = json.loads(json.dumps(asdict(stage)))
    if state:  # a setting added since the run began holds its default, which trains as the run did
        state["stage"] = {**json.loads(json.dumps(asdict(Stage()))), **state["stage"]}
    if state and state.get("stage") != settings:
        planned = state["stage"].get("epochs")
        if {**state["stage"], "epochs": stage.epochs} != settings:
            raise ValueError(f"{files.dir} holds a run of other settings; pick another --work-dir")
        log(f"stage {number}: epoch budget changed from {planned} to {stage.epochs}: the schedule is re-planned")
    faces = AugmentedFaces(
        x_train,
        np.eye(len(EMOTIONS), dtype=np.float32)[y_train],
        stage.batch_size,
        stage.seed,
        stage.augmentation(),
        colour=colour,
        sample_weights=sample_weights,
    )
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(stage.precision)
    with strategy.scope():
        try:
            net = build_vgg(tuple(stage.widths), stage.convs_per_block)
            # The softmax in float32 whatever the policy: probabilities too coarse in 16 bits for the loss.
            net.get_layer("emotion").dtype_policy = keras.DTypePolicy("float32")
            model, loss, metrics = trainer_model(net, stage)
        finally:
            keras.mixed_precision.set_global_policy(policy)
        model.compile(optimizer=_optimizer(stage, steps), loss=loss, metrics=metrics)
        if state and files.weights.exists():
            log(f"stage {number}: resuming from epoch {state['epoch']} (checkpoint {files.weights})")
            net.load_weights(files.weights)
            model.optimizer.build(model.trainable_variables)
            saved = np.load(files.optimizer)
            for i, variable in enumerate(model.optimizer.variables):
                variable.assign(saved[f"v{i}"])
        else:
            state = {"stage": settings, "started": datetime.now(timezone.utc).isoformat(), "epoch": 0}
            if start:
                log(f"stage {number}: starting from the weights of {start}" + (", pruned" if stage.prune else ""))
            _start_weights(stage, start, net)
    state["stage"] = settings
    state["distribution"] = {"strategy": type(strategy).__name__, "replicas": replicas}
    validate = len(y_val) > 0
    verbose, progress = fit_progress(log)
    try:
        if state["epoch"] < stage.epochs:
            model.fit(
                _batches(faces, steps, state["epoch"]),
                validation_data=_validation(x_val, y_val) if validate else None,
                epochs=stage.epochs,
                initial_epoch=state["epoch"],
                steps_per_epoch=steps,
                callbacks=[
                    keras.callbacks.SwapEMAWeights(),  # validation reads the weight average
                    _epoch_callback(written, net, stage, state, validate, holdout, log),
                    *progress,
                ],
                verbose=verbose,
            )
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as error:
        # A worker died or its network went away: TensorFlow's answer is to restart the whole cluster.
        raise WorkerLost(
            f"lost contact with a worker ({error.message.splitlines()[0]}); start every worker again "
            f"with the same command and they resume from epoch {files.read_state().get('epoch', 0)}"
        ) from None
    finally:
        if not chief:
            shutil.rmtree(written.dir, ignore_errors=True)
    if not chief:
        return None
    net.load_weights(files.best if validate and files.best.exists() else files.last)
    if stage.average_with_start and start:
        from fer_core.model.classifier import load_model

        net.set_weights([(a + b) / 2 for a, b in zip(net.get_weights(), load_model(start).get_weights())])
    if stage.precision != "float32":
        net = _float32_copy(net, stage)
    net.save(files.result)  # not compiled: the bare network, the same input contract as every project model
    state.update(finished=True, kept=_kept(stage, validate, state))
    _write_atomic(files.state, json.dumps(state, indent=1) + "\n")
    return files.dir


def _kept(stage: Stage, validate: bool, state: dict) -> str:
    kept = (
        f"the weight average of epoch {state.get('best_epoch')} (best on the validation split"
        + (" and the held-out real photos)" if stage.real_photos_holdout else ")")
        if validate
        else "the last epoch's weight average"
    )
    return kept + (", averaged with the weights it started from" if stage.average_with_start else "")


def train(run: Run, strategy=None, log=print) -> Path | None:
    """Run every stage of the recipe (each from the one before), then write the model, its history,
    recipe, evaluation and card to `run.out`; return `run.out`, or None on a worker that is not the chief."""
    from fer_core.model.classifier import import_tensorflow

    for stage in run.stages:  # a later stage's missing photos are reported now, not after the first ones
        _real_photo_lists(stage)
    tf = import_tensorflow()
    strategy = strategy or tf.distribute.get_strategy()
    start = run.stages[0].init_from
    folders = []
    for number, stage in enumerate(run.stages, start=1):
        stage = replace(stage, init_from=start)
        folder = train_stage(run, stage, number, start, strategy, log)
        if folder is None:
            return None
        folders.append(folder)
        start = str(folder / "model.keras")
    return write_model(run, folders, log)


def write_model(run: Run, folders: list[Path], log=print) -> Path:
    """The last stage's network (and its OpenCV copy), every stage's history (one curve), the recipe and the
    card, in `run.out`."""
    from fer_core.model.opencv_net import write_opencv_file
    from fer_core.reporting.cards import earlier_stages, hardware_description, stage_totals, write_card

    out = Path(run.out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(folders[-1] / "model.keras", out / "model.keras")
    write_opencv_file(out / "model.keras")  # what the app runs on a CPU, without TensorFlow
    history: list[dict] = []
    stages = earlier_stages(run.stages[0].init_from)
    states = [_StageFiles(f).read_state() for f in folders]
    for number, folder in enumerate(folders, start=1):
        records = _StageFiles(folder).read_history()
        history += [{**r, "epoch": r["epoch"] + len(history)} for r in records]
        seconds = round(sum(r["seconds"] for r in records), 1)
        name = out.name if len(folders) == 1 else f"{out.name} stage {number}"
        stages.append({"name": name, "epochs": len(records), "seconds": seconds})
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    from fer_core.reporting.cards import portable_path

    first = replace(run.stages[0], init_from=portable_path(run.stages[0].init_from))
    real_paths = ("real_photos", "real_photos_list", "real_photos_holdout")
    portable = [replace(s, **{k: portable_path(getattr(s, k)) for k in real_paths}) for s in [first, *run.stages[1:]]]
    recipe = recipe_dict(portable, out.name)
    earlier = _start_recipe(run.stages[0].init_from)
    if earlier:  # the whole lineage: the start model's stages, then this run's from them, not from its file
        recipe["stages"][0].pop("init_from", None)
        recipe["stages"] = earlier + recipe["stages"]
    (out / "recipe.json").write_text(json.dumps(recipe, indent=2) + "\n")

    last = run.stages[-1]
    x_train, y_train = load_arrays(run.data, "train")
    x_test, y_test = _subset(*load_arrays(run.data, "test"), run.limit, last.seed)
    own = stages[len(stages) - len(folders) :]
    facts = {
        "architecture": f"vgg {'-'.join(map(str, last.widths))}" + (" (distilled)" if last.teacher else ""),
        "epochs_run": sum(s["epochs"] for s in own),
        "best_epoch": states[-1].get("best_epoch"),
        "kept": _kept(last, states[-1].get("best_epoch") is not None, states[-1]),
        "stopped_early": bool(states[-1].get("stopped_early")),
        "training_seconds": round(sum(s["seconds"] for s in own), 1),
        **stage_totals(stages),
        "hardware": hardware_description(),
        "distribution": states[-1].get("distribution"),
        "trained": states[0].get("started"),
        "config": recipe,
    }
    real = _real_photo_facts(run.stages, states[-1], _StageFiles(folders[-1]).read_history())
    if real:
        facts["real_photos"] = real
    write_card(out, x_test, y_test, facts, run.data, train_labels=y_train, log=log)
    return out


def _start_recipe(init_from: str | None) -> list[dict]:
    """The stages of the recipe stored with the model a run starts from (in or beside it), so that the run's
    own recipe replays the whole lineage with `--config`; none when it has no readable recipe."""
    if not init_from:
        return []
    folder = Path(init_from) if Path(init_from).is_dir() else Path(init_from).parent
    try:
        stages = json.loads((folder / "recipe.json").read_text())["stages"]
        for stage in stages:
            Stage.from_dict(stage)  # raises for anything that is not a stage, as read_recipe does
        return stages
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _real_photo_facts(stages: list[Stage], state: dict, history: list[dict]) -> dict | None:
    """What a card says of the real photos a run trained on: the folder, the lists of photos trained on
    and held out, and the held-out photos' scores at the epoch kept (None when no stage read any)."""
    from fer_core.reporting.cards import portable_path

    used = [s for s in stages if s.real_photos]
    if not used:
        return None

    def listed(path: str | None) -> dict | None:
        return {"list": portable_path(path), "photos": len(Path(path).read_text().split())} if path else None

    last = used[-1]
    facts = {
        "folder": portable_path(last.real_photos),
        "trained_on": listed(last.real_photos_list) or "every photo of the folder",
        "held_out": listed(last.real_photos_holdout),
        "times_an_epoch": last.real_repeat,
    }
    kept = state.get("best_epoch")
    record = next((r for r in reversed(history) if r["epoch"] == kept), history[-1] if history else None)
    if last.real_photos_holdout and record and "real_accuracy" in record:
        facts["held_out_scores"] = {
            "epoch": record["epoch"],
            "accuracy": round(record["real_accuracy"], 4),
            "macro_f1": round(record["real_macro_f1"], 4),
            "whole_photo_accuracy": round(record["real_whole_accuracy"], 4),
        }
    return facts


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

    Keras 3's TensorFlow trainer calls `strategy.reduce` on a whole batch structure to learn its
    shapes, and with `axis=0` on per-replica scalar metrics; the collective strategy reduces one tensor
    of at least one dimension at a time. This one reduces each tensor of a structure on its own and
    scalars across replicas, which is what Keras asks for.
    """

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            def reduce_one(tensor):
                rank = self.experimental_local_results(tensor)[0].shape.rank
                return super(MultiWorkerMirroredStrategy, self).reduce(reduce_op, tensor, None if rank == 0 else axis)

            return tf.nest.map_structure(reduce_one, value)

    return MultiWorkerMirroredStrategy()
