"""Loading the trained model and classifying batches of face crops."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.model.ensemble import MANIFEST_FILE, load_ensemble, read_manifest
from fer_core.model.int8_net import read_int8_file
from fer_core.model.opencv_net import opencv_net, read_opencv_file
from fer_core.model.preprocess import FACE_SIZE, TTA_VIEWS  # noqa: F401  TTA_VIEWS: the CLI and benches import it from here
from fer_core.paths import PROJECT_DIR, shown_path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def native_stderr_silenced():
    """Standard error (fd 2) sent to /dev/null for the block. TensorFlow's C++ side prints start-up notices
    (oneDNN, CPU features) straight there, before any log level applies, and so does LiteRT
    (faces/blazeface.py); hidden, the CLI's stderr holds only our messages."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow():
    """Import TensorFlow (once), and let it find its devices, without its start-up noise."""
    if "tensorflow" not in sys.modules:
        with native_stderr_silenced():
            import tensorflow

            # Probing for GPUs prints a cuInit error on machines without one (full tensorflow wheel).
            tensorflow.config.list_physical_devices("GPU")
    return sys.modules["tensorflow"]


MODELS_DIR = PROJECT_DIR / "models"
# A model is a folder in models/ (a network's model.keras, or an ensemble's manifest) or a .keras file.
DEFAULT_MODEL = MODELS_DIR / "fer_vgg"
NETWORK_FILE = "model.keras"
CARD_FILE = "model_card.json"  # what a model's folder records of it (fer_core.reporting.cards writes it)
# The fast single-view model for frame after frame (the live page, video files), when it is shipped.
LIVE_MODEL = MODELS_DIR / "fer_live" / "model.keras"


def fast_model() -> Path:
    """The model for video: $FER_MODEL if set, else LIVE_MODEL when present, else DEFAULT_MODEL."""
    if os.environ.get("FER_MODEL"):
        return Path(os.environ["FER_MODEL"])
    return LIVE_MODEL if LIVE_MODEL.is_file() else DEFAULT_MODEL


class ModelError(RuntimeError):
    """The model file is missing or cannot be loaded."""


def load_model(path: str | Path = DEFAULT_MODEL):
    """A project model as a Keras model, checked to take 48x48 faces to the 7 classes. `path` is a
    `.keras` file, or a model's folder: one holding `model.keras`, or an ensemble's `ensemble.json`
    (the ensemble is built from its members' files). A missing, damaged or foreign model raises
    ModelError with what to do about it."""
    path = Path(path)
    shown = shown_path(path)
    if path.is_dir() and (path / MANIFEST_FILE).is_file():
        try:
            model = load_ensemble(path, load_network)
        except (ValueError, KeyError, TypeError) as error:
            restore = "restore it with `git checkout -- models/`"
            raise ModelError(f"ensemble {shown} cannot be loaded ({error}); {restore}") from error
    else:
        model = load_network(path / NETWORK_FILE if path.is_dir() else path)
    expected = (None, FACE_SIZE, FACE_SIZE, 1)
    if tuple(model.input_shape) != expected or model.output_shape[-1] != len(EMOTIONS):
        raise ModelError(
            f"model {shown} takes {model.input_shape} -> {model.output_shape}, expected {expected} -> 7 classes"
        )
    return model


def load_network(path: Path):
    """One saved Keras network (a `.keras` file: a model's, an ensemble member's, the face verifier's), loaded
    in Keras safe mode with the project's layers registered, or ModelError."""
    shown = shown_path(path)
    if not path.is_file():
        raise ModelError(
            f"model file {shown} not found; train one with `python -m fer_core train` or restore models/ from git"
        )
    import_tensorflow()
    import keras

    import fer_core.model.architecture  # noqa: F401  registers the project's layers before loading

    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a damaged archive
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        reason = reason.replace(str(path.resolve()), shown).replace(str(path), shown)
        raise ModelError(
            f"model file {shown} cannot be loaded ({reason}); "
            "restore it with `git checkout -- models/` or train one with `python -m fer_core train`"
        ) from error


def unsure_threshold(path: str | Path) -> float:
    """The top probability under which the model at `path` calls a face unsure: its card's
    `unsure_below`, chosen on real photos (bench/unsure_threshold.py); 0 (never unsure) without one."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent if path.name == NETWORK_FILE else None
    card = folder / CARD_FILE if folder else None
    if card is None or not card.is_file():
        return 0.0
    try:
        return float(json.loads(card.read_text()).get("unsure_below", 0.0))
    except (ValueError, TypeError, AttributeError):
        return 0.0


class Classifier:
    """Classifies batches of 48x48 face crops with a project model (a network, or an ensemble's manifest).

    Where every network of the model keeps a copy beside it and no NVIDIA GPU is there, `load` runs the
    copies without importing TensorFlow: their 8-bit versions in LiteRT (`int8_net.read_int8_file`), else
    their OpenCV graphs (`opencv_net.read_opencv_file`); the Keras model (`model`) is then read only if
    asked for. Otherwise (`from_keras`) the Keras model is wrapped in one compiled graph that takes any
    batch size: traced once (batch dimension left open), so a call costs a few
    milliseconds instead of the tens an eager `model.predict` spends on setup, running a copy of the model
    with its batch normalisations folded in (`for_inference`). TensorFlow places it on a GPU when it sees
    one; on a CPU, a single-view network runs in OpenCV instead (`opencv_net`), faster for the few faces of
    a frame. An ensemble whose manifest sets `sure_at` has its members read in turn, each face only until
    it is sure (`ensemble.Manifest`).
    """

    def __init__(
        self,
        run,
        engine: str,
        tta: str = "none",
        unsure_below: float = 0.0,
        path: str | Path | None = None,
        model=None,
    ):
        """The one constructor, which the two below go through. `run`: (N, 48, 48, 1) uint8 faces -> (N, 7)
        probabilities; `engine`: what runs it (see `engine`); `tta`: the test-time views it reads;
        `unsure_below`: a face whose top probability is under it is shown as unsure (0: never); `model`: the
        Keras model behind `run`, else read from `path` when asked for."""
        self._run, self._engine = run, engine
        self.labels, self.tta, self.unsure_below = EMOTIONS, tta, unsure_below
        self._model, self._path = model, None if path is None else Path(path)

    @classmethod
    def from_keras(
        cls,
        model,
        tta: str = "none",
        engine: str = "auto",
        unsure_below: float = 0.0,
        sure_at: float = 0.0,
        member_views: str = "none",
        path: str | Path | None = None,
    ) -> Classifier:
        """A Keras model read in OpenCV or in TensorFlow's graph. `engine`: "auto" runs the network in OpenCV
        where it can (see below), "tensorflow" always in TensorFlow. `sure_at`, `member_views`: for an
        ensemble (`model` holds its members as nested models), read the members in turn, each in
        `member_views`, and stop at a face once it is this sure (0: every member reads every face at once);
        not with test-time views of its own (`tta`)."""
        import_tensorflow()
        if tta not in TTA_VIEWS:
            raise ValueError(f"unknown test-time augmentation {tta!r}; choose one of {', '.join(TTA_VIEWS)}")
        if engine not in ("auto", "tensorflow"):
            raise ValueError(f"unknown engine {engine!r}; choose auto or tensorflow")
        shifts = TTA_VIEWS[tta]
        from fer_core.model.architecture import for_inference

        inference = for_inference(model)
        members = _members(inference)
        # On a CPU, OpenCV runs a plain single-view network faster than TensorFlow (opencv_net.py);
        # TensorFlow's graph is traced only where it runs.
        if sure_at and not shifts and len(members) > 1:
            member_shifts = TTA_VIEWS[member_views]
            run = SureFirst([tensorflow_graph(member, member_shifts) for member in members], sure_at)
            return cls(run, "tensorflow", tta, unsure_below, path, model)
        opencv = None if shifts or engine == "tensorflow" else opencv_net(inference)
        if opencv is not None:
            return cls(opencv, "opencv", tta, unsure_below, path, model)
        return cls(tensorflow_graph(inference, shifts), "tensorflow", tta, unsure_below, path, model)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL, tta: str = "none", engine: str = "auto") -> Classifier:
        """The model at `path` (see `load_model`), in OpenCV from its networks' copies where it can."""
        path = Path(path)
        copies = _copies(path) if tta == "none" and engine == "auto" else None
        if copies is not None:  # no Keras model, no TensorFlow
            classifier = cls(*copies, tta, unsure_threshold(path), path)
        else:
            model = load_model(path)  # checks an ensemble's manifest too
            manifest = read_manifest(path) if (path / MANIFEST_FILE).is_file() else None
            reading = {"sure_at": manifest.sure_at, "member_views": manifest.views} if manifest else {}
            classifier = cls.from_keras(model, tta, engine, unsure_threshold(path), path=path, **reading)
        probs = classifier.predict_batch(np.zeros((1, FACE_SIZE, FACE_SIZE, 1), np.uint8))  # warm up now
        if probs.shape != (1, len(EMOTIONS)):
            raise ModelError(f"model {shown_path(path)} gives {probs.shape[-1]} outputs, expected 7 classes")
        return classifier

    @property
    def model(self):
        """The Keras model (read from its files on first use where the classifier runs OpenCV copies)."""
        if self._model is None:
            self._model = load_model(self._path)
        return self._model

    def predict_batch(self, faces: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """(N, 48, 48, 1) uint8 face crops -> (N, 7) probabilities in EMOTIONS order."""
        faces = np.asarray(faces, np.uint8)
        if len(faces) == 0:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        chunks = [self._run(faces[i : i + batch_size]) for i in range(0, len(faces), batch_size)]
        return np.concatenate(chunks)

    @property
    def engine(self) -> str:
        """What runs the network: "litert-int8" (`int8_net`), "opencv" (`opencv_net`) or "tensorflow"."""
        return self._engine

    def time_single_face(self, repeats: int = 200, faces: np.ndarray | None = None) -> float:
        """Median milliseconds to classify one face (after warm-up), each of `faces` in turn ((N, 48, 48, 1)
        uint8: real faces, where an ensemble that reads its members in turn stops early), else random pixels."""
        if faces is None:
            faces = np.random.default_rng(0).integers(0, 256, (1, FACE_SIZE, FACE_SIZE, 1), np.uint8)
        for i in range(10):
            self.predict_batch(faces[i % len(faces)][None])
        times = []
        for i in range(repeats):
            face = faces[i % len(faces)][None]
            start = time.perf_counter()
            self.predict_batch(face)
            times.append(time.perf_counter() - start)
        return 1000 * float(np.median(times))


class SureFirst:
    """An ensemble's members read in turn (`ensemble.Manifest.sure_at`): every face by the first; then each
    face whose mean so far is under `sure_at` on every class by the next, and so on. A face's probabilities
    are the mean of the members that read it."""

    def __init__(self, members: list, sure_at: float):
        self.members = members  # each: (N, 48, 48, 1) uint8 -> (N, 7) probabilities
        self.sure_at = sure_at

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        total = np.asarray(self.members[0](faces), np.float32)
        probs = total.copy()
        unsure = np.flatnonzero(probs.max(axis=1) < self.sure_at)
        for read, member in enumerate(self.members[1:], start=2):
            if not len(unsure):
                break
            total[unsure] += member(faces[unsure])
            probs[unsure] = total[unsure] / read
            unsure = unsure[probs[unsure].max(axis=1) < self.sure_at]
        return probs


def _copies(path: Path):
    """The model at `path` run from its networks' copies without TensorFlow, with the engine that runs them:
    the 8-bit LiteRT copies where every network has one (`int8_net`), else the OpenCV copies
    (`opencv_net`); an ensemble read as its manifest says. None where a network has neither copy for its
    weights, a GPU is there, or an ensemble's views are other than "none" and "flip"."""
    if (path / MANIFEST_FILE).is_file():
        try:
            manifest = read_manifest(path)
        except (ValueError, KeyError, TypeError):
            return None  # load_model says what is wrong with it
        if manifest.views not in ("none", "flip"):
            return None
        files = [folder / NETWORK_FILE for folder in manifest.member_dirs(path)]
    else:
        manifest, files = None, [path / NETWORK_FILE if path.is_dir() else path]
    for engine, read in (("litert-int8", read_int8_file), ("opencv", read_opencv_file)):
        nets = [read(file) for file in files]
        if any(net is None for net in nets):
            continue
        if manifest is None:
            return nets[0], engine
        readers = [_with_mirror_image(net) if manifest.views == "flip" else net for net in nets]
        return SureFirst(readers, manifest.sure_at or math.inf), engine  # inf: never sure, every member reads all
    return None


def _with_mirror_image(net):
    """`net` reading each face and its mirror image, their probabilities averaged (an ensemble's "flip")."""

    def read(faces: np.ndarray) -> np.ndarray:
        both = net(np.concatenate([faces, faces[:, :, ::-1]]))
        return (both[: len(faces)] + both[len(faces) :]) / 2

    return read


def _members(model) -> list:
    """The networks nested in `model` (an ensemble's members, in the order it reads them); none in a network."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def tensorflow_graph(inference, shifts: tuple[tuple[int, int], ...] = (), dtype: str = "uint8"):
    """`inference` as one traced TensorFlow graph taking (N, 48, 48, 1) faces of `dtype` (uint8 faces; the
    face verifier's normalised crops are float32) to its outputs (a model's (N, 7) probabilities), each face
    read through its `shifts` and their mirror images, averaged (none: the face as it is)."""
    tf = import_tensorflow()
    from fer_core.model.architecture import face_views  # the same views an ensemble file holds

    @tf.function(input_signature=[tf.TensorSpec((None, FACE_SIZE, FACE_SIZE, 1), dtype)], reduce_retracing=True)
    def forward(batch):
        x = tf.cast(batch, tf.float32)
        if not shifts:
            return inference(x, training=False)
        # Every view of every face in one model call, then the views' probabilities averaged.
        views = face_views(x, shifts)
        probs = inference(tf.concat(views, axis=0), training=False)
        return tf.reduce_mean(tf.reshape(probs, (len(views), -1, len(EMOTIONS))), axis=0)

    # The traced graph itself: calling it skips the tf.function's dispatch (matching the arguments to a trace).
    graph = forward.get_concrete_function()

    def read(faces: np.ndarray) -> np.ndarray:
        return graph(faces).numpy()

    read.network = inference  # the network whose variables the graph reads lives as long as the function
    return read
