"""A trained network in 8-bit integers, run by LiteRT (TensorFlow Lite's runtime, with XNNPACK) on a CPU.

A photo-model member reads a face in about 0.7 ms this way, against 4.6 ms in OpenCV's engine in 32-bit
floats (`opencv_net`), on a CPU with 8-bit dot-product instructions (AVX-512 VNNI here), and reads
FER2013 `test/` as well (docs/speed.md, "Networks in 8-bit integers"). Weights and activations are
quantized after training (TensorFlow Lite's converter, full-integer post-training quantization): each
activation's range is measured on FER2013 *train* faces (`calibration_faces`); input and output stay
32-bit floats, so a caller gives it the same faces and gets the same probabilities as from the Keras model.

Each member of the photo model keeps that copy beside its `.keras` file, named after the `.keras` file's
SHA-256 like the OpenCV copy (`model.int8-<digest>.tflite`). `Classifier.load` prefers it on a machine
without an NVIDIA GPU; a copy written for other weights is never read. The live model has none: its 8-bit
copy read real photos through the live search a little worse than the floats, under the floor its test
holds it to, so it runs its OpenCV copy. Writing a copy needs TensorFlow and FER2013; reading one needs
neither. `write_int8_file` checks the copy against the Keras model on other train faces and refuses one
that disagrees (`MIN_AGREEMENT`, `MAX_MEAN_ERROR`).

    python -m fer_core.model.int8_net --data ../shared/fer2013 models/fer_vgg_s21/model.keras ...  # (re)write
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from fer_core.model.litert import Interpreters
from fer_core.model.opencv_net import gpu_present
from fer_core.model.preprocess import FACE_SIZE

CALIBRATION_FACES = 500  # FER2013 train faces whose activations set the ranges ...
CHECK_FACES = 500  # ... and other train faces the copy is checked on
MIN_AGREEMENT = 0.97  # the least share of the check faces whose top class the copy gives as Keras does
MAX_MEAN_ERROR = 0.02  # the largest mean absolute difference from Keras's probabilities


class Int8Net:
    """An 8-bit network called like the TensorFlow graph it replaces: (N, 48, 48, 1) faces in, (N, k) float32
    out. One interpreter reads the faces one at a time: an interpreter for each batch size a photo brings
    held about 8 MB each (the photo model grew from 110 to 380 MB over batches of 1 to 12 faces), and in
    XNNPACK's 8-bit kernels a batch saves little per face (batches of 8 and 64: 0.71 and 0.70 ms a face,
    against 0.73 and 0.72 one at a time, in turns on a quiet machine). Calls from several threads
    (sessions) take turns."""

    def __init__(self, content: bytes):
        interpreter = Interpreters(content, kept=1).for_shape((1, FACE_SIZE, FACE_SIZE, 1))  # ValueError if unreadable
        self._interpreter = interpreter
        self._input = interpreter.get_input_details()[0]["index"]
        self._output = interpreter.get_output_details()[0]["index"]
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        faces = np.ascontiguousarray(batch, np.float32).reshape(len(batch), 1, FACE_SIZE, FACE_SIZE, 1)
        outputs = []
        with self._lock:
            for face in faces:
                self._interpreter.set_tensor(self._input, face)
                self._interpreter.invoke()
                outputs.append(self._interpreter.get_tensor(self._output)[0].copy())
        if not outputs:
            return np.zeros((0, self._interpreter.get_output_details()[0]["shape"][-1]), np.float32)
        return np.stack(outputs)


def int8_file(keras_path: str | Path) -> Path:
    """Where the 8-bit copy of the network saved in `keras_path` is kept: beside it, named after the first
    12 hex digits of the `.keras` file's SHA-256, so that a copy of other weights is never taken for it."""
    keras_path = Path(keras_path)
    digest = hashlib.sha256(keras_path.read_bytes()).hexdigest()[:12]
    return keras_path.with_name(f"{keras_path.stem}.int8-{digest}.tflite")


def read_int8_file(keras_path: str | Path) -> Int8Net | None:
    """The 8-bit net kept beside `keras_path` for its present weights, read without TensorFlow; None where
    there is none, where an NVIDIA GPU is there for TensorFlow to use, or where LiteRT cannot read it."""
    keras_path = Path(keras_path)
    if gpu_present() or not keras_path.is_file():
        return None
    path = int8_file(keras_path)
    if not path.is_file():
        return None
    try:
        return Int8Net(path.read_bytes())
    except ValueError:
        return None


def calibration_faces(data: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(faces to set the ranges on, other faces to check the copy on): FER2013 train faces drawn with a
    fixed seed, (N, 48, 48, 1) uint8; half each where the data holds fewer than both need."""
    from fer_core.datasets import load_split

    images = load_split(data, "train").images
    order = np.random.default_rng(0).permutation(len(images))
    first = min(CALIBRATION_FACES, len(images) // 2)
    calibration, check = order[:first], order[first : first + CHECK_FACES]
    return images[calibration][..., None], images[check][..., None]


def write_int8_file(keras_path: str | Path, data: str | Path, model=None, log=print) -> Path:
    """Write the 8-bit copy of the network saved in `keras_path` (`model`: that network, if already loaded),
    its ranges set on FER2013 `data`'s train faces, checked against the Keras model on other train faces,
    and remove the copies of earlier weights. ValueError if the copy does not read as the model does."""
    from fer_core.model.architecture import for_inference
    from fer_core.model.classifier import import_tensorflow, load_network

    tf = import_tensorflow()
    keras_path = Path(keras_path)
    inference = for_inference(model if model is not None else load_network(keras_path))
    calibration, check = calibration_faces(data)
    with tempfile.TemporaryDirectory() as folder:
        inference.export(folder, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([face[None].astype(np.float32)] for face in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        content = converter.convert()
    expected = inference.predict(check.astype(np.float32), batch_size=256, verbose=0)
    got = Int8Net(content)(check)
    agreement = float(np.mean(expected.argmax(1) == got.argmax(1)))
    error = float(np.abs(expected - got).mean())
    if agreement < MIN_AGREEMENT or error > MAX_MEAN_ERROR:
        raise ValueError(
            f"the 8-bit copy of {keras_path.name} gives Keras's top class for {agreement:.1%} of {len(check)} "
            f"faces (mean difference {error:.4f}); at least {MIN_AGREEMENT:.0%} and at most {MAX_MEAN_ERROR} needed"
        )
    target = int8_file(keras_path)
    for earlier in keras_path.parent.glob(f"{keras_path.stem}.int8-*.tflite"):
        earlier.unlink()
    target.write_bytes(content)
    log(f"wrote {target}: Keras's top class for {agreement:.1%} of {len(check)} check faces, "
        f"mean difference {error:.4f}")  # fmt: skip
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the 8-bit LiteRT copy of each network named.")
    parser.add_argument("--data", required=True, help="FER2013 (folder or .csv): its train faces set the ranges")
    parser.add_argument("networks", nargs="+", type=Path, help="`.keras` files of single networks")
    args = parser.parse_args(argv)
    for path in args.networks:
        write_int8_file(path, args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
