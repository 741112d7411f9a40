"""A trained network run by OpenCV's inference engine (`cv2.dnn`) instead of TensorFlow, on a CPU.

For the few faces of a video frame, TensorFlow spends much of its time around the arithmetic
(scheduling each operation) and oneDNN's convolutions suit large batches; OpenCV's engine runs the
same small networks in less time (`bench/bench_models.py` times both; docs/speed.md), and the outputs
agree to 1e-5 (tests/test_opencv_net.py).

`opencv_net` writes a Keras model, its batch normalisations already folded in
(`architecture.for_inference`), as a frozen TensorFlow graph of plain operations (convolution, bias,
ReLU, max-pooling, mean, matrix product, softmax), which `cv2.dnn` reads; a weighted average of such
networks (the face verifier) becomes their branches added up. Models with other layers (the photo
model's shifted and mirrored views, averaged after a softmax) stay with TensorFlow, as does every
model where TensorFlow sees a GPU: the caller keeps its TensorFlow graph and uses this only when it
is given one.

Each shipped network also keeps that graph beside its `.keras` file (`write_opencv_file`, which the
trainer calls), named after the `.keras` file's SHA-256: `model.keras` and `model.opencv-<digest>.pb`.
On a machine without an NVIDIA GPU, `read_opencv_file` gives the net straight from it, so the photo
path, `predict` and the live page run without importing TensorFlow at all (about 3 s of start-up, and
TensorFlow's idle threads no longer compete with OpenCV's). A copy written for other weights is never
read; a network without one is written as a graph when it loads, as before, with TensorFlow.

    python -m fer_core.model.opencv_net models/fer_live/model.keras ...   # (re)write the copies
"""

from __future__ import annotations

import hashlib
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fer_core.model.preprocess import FACE_SIZE

if TYPE_CHECKING:
    import keras
    from keras import layers


class Unsupported(ValueError):
    """The model holds a layer this module does not write as plain graph operations."""


class OpenCVNet:
    """A `cv2.dnn.Net` called like the TensorFlow graph it replaces: (N, 48, 48, 1) float32 in, (N, k) out.
    One net holds one input at a time, so calls from several threads (sessions) take turns."""

    def __init__(self, net: cv2.dnn.Net):
        self._net = net
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        blob = np.ascontiguousarray(batch, np.float32).reshape(len(batch), 1, FACE_SIZE, FACE_SIZE)  # NCHW, 1 channel
        with self._lock:
            self._net.setInput(blob)
            return self._net.forward().reshape(len(batch), -1)


def opencv_net(model: keras.Model) -> OpenCVNet | None:
    """`model` (48x48x1 in) as an OpenCV net when TensorFlow has no GPU to run it on and every layer can be
    written as plain operations; else None. The net is checked against the model on a few random faces."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return None
    try:
        return _checked_net(model, _frozen_graph(model))
    except Unsupported:
        return None


def opencv_file(keras_path: str | Path) -> Path:
    """Where the OpenCV copy of the network saved in `keras_path` is kept: beside it, named after the first
    12 hex digits of the `.keras` file's SHA-256, so that a copy of other weights is never taken for it."""
    keras_path = Path(keras_path)
    digest = hashlib.sha256(keras_path.read_bytes()).hexdigest()[:12]
    return keras_path.with_name(f"{keras_path.stem}.opencv-{digest}.pb")


def write_opencv_file(keras_path: str | Path, model: keras.Model | None = None) -> Path:
    """Write the OpenCV copy of the network saved in `keras_path` (`model`: that network, if already
    loaded), checked against it, and remove the copies of earlier weights. Unsupported for a network with
    layers that are not written as plain operations; ValueError if OpenCV reads it otherwise."""
    from fer_core.model.architecture import for_inference

    keras_path = Path(keras_path)
    if model is None:
        from fer_core.model.classifier import load_network

        model = load_network(keras_path)
    inference = for_inference(model)
    graph = _frozen_graph(inference)
    if _checked_net(inference, graph) is None:
        raise ValueError(f"OpenCV does not read {keras_path.name}'s graph as Keras computes it")
    target = opencv_file(keras_path)
    for earlier in keras_path.parent.glob(f"{keras_path.stem}.opencv-*.pb"):
        earlier.unlink()
    target.write_bytes(graph)
    return target


def read_opencv_file(keras_path: str | Path) -> OpenCVNet | None:
    """The net kept beside `keras_path` for its present weights, read without TensorFlow; None where there
    is none, where an NVIDIA GPU is there for TensorFlow to use, or where OpenCV cannot read it."""
    keras_path = Path(keras_path)
    if gpu_present() or not keras_path.is_file():
        return None
    path = opencv_file(keras_path)
    if not path.is_file():
        return None
    try:
        return OpenCVNet(cv2.dnn.readNetFromTensorflow(str(path)))
    except cv2.error:
        return None


def gpu_present() -> bool:
    """An NVIDIA driver is loaded, so TensorFlow would run the networks on a GPU: known without importing it."""
    return Path("/proc/driver/nvidia/version").exists()


def _frozen_graph(model: keras.Model) -> bytes:
    """`model` (batch normalisations folded) as a frozen TensorFlow graph of plain operations; Unsupported
    for a layer that is not written so."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec((None, FACE_SIZE, FACE_SIZE, 1))
    forward = tf.function(lambda x: _written(model, x), input_signature=[spec], autograph=False)
    graph = convert_variables_to_constants_v2(forward.get_concrete_function()).graph.as_graph_def()
    for node in graph.node:
        # TensorFlow writes a constant whose values are all the same (the zero biases of a new network) as
        # that one value, or none for zeros; OpenCV reads a constant's values only from its raw content.
        tensor = node.attr["value"].tensor if node.op == "Const" else None
        if tensor is not None and tensor.tensor_shape.dim and not tensor.tensor_content:
            values = tf.make_ndarray(tensor)
            for field in ("float_val", "int_val", "half_val", "double_val", "int64_val"):
                tensor.ClearField(field)
            tensor.tensor_content = values.tobytes()
    return graph.SerializeToString()


def _checked_net(model: keras.Model, graph: bytes) -> OpenCVNet | None:
    """`graph` read by OpenCV, if it reads it and computes what `model` does on a few random faces; else None."""
    try:
        net = OpenCVNet(cv2.dnn.readNetFromTensorflow(np.frombuffer(graph, np.uint8)))
    except cv2.error:  # an OpenCV build that reads the graph otherwise: TensorFlow it is
        return None
    faces = np.random.default_rng(0).uniform(0, 255, (4, FACE_SIZE, FACE_SIZE, 1)).astype(np.float32)
    expected = np.asarray(model(faces, training=False)).reshape(len(faces), -1)
    return net if np.allclose(net(faces), expected, rtol=1e-3, atol=1e-4) else None


def _written(model: keras.Model, x, weight: float = 1.0):
    """`model` applied to `x` in plain TensorFlow operations, its output scaled by `weight` (folded into
    its last layer, which must then be a linear dense one)."""
    import keras
    import tensorflow as tf
    from keras import layers

    body = [layer for layer in model.layers if not isinstance(layer, (layers.InputLayer, layers.Dropout))]
    if isinstance(body[-1], layers.Average) and all(isinstance(layer, keras.Model) for layer in body[:-1]):
        branches = [_written(member, x, weight / len(body[:-1])) for member in body[:-1]]  # a mean of networks
        total = branches[0]
        for branch in branches[1:]:
            total = tf.add(total, branch)
        return total
    if weight != 1.0 and not (isinstance(body[-1], layers.Dense) and body[-1].activation is keras.activations.linear):
        raise Unsupported(f"a branch of a mean ending in {body[-1].name}, not a linear dense layer")
    scale = 1.0  # a Rescaling's factor, carried into the convolution after it
    for layer in body:
        if isinstance(layer, layers.Rescaling) and float(np.ravel(layer.offset)[0]) == 0.0:
            scale *= float(np.ravel(layer.scale)[0])
            continue
        if scale != 1.0 and not isinstance(layer, layers.Conv2D):
            raise Unsupported(f"a Rescaling not followed by a convolution ({layer.name})")
        if isinstance(layer, layers.Conv2D) and _plain_conv(layer):
            kernel, *bias = _weights(layer)
            x = tf.nn.conv2d(x, kernel * scale, 1, layer.padding.upper())
            x = _activated(layer, tf.nn.bias_add(x, bias[0]) if bias else x)
            scale = 1.0
        elif isinstance(layer, layers.Dense) and len(x.shape) == 2:
            kernel, *bias = _weights(layer)
            share = weight if layer is body[-1] else 1.0
            x = tf.matmul(x, kernel * share)
            x = _activated(layer, tf.nn.bias_add(x, bias[0] * share) if bias else x)
        elif isinstance(layer, layers.ReLU) and _plain_relu(layer):
            x = tf.nn.relu(x)
        elif isinstance(layer, layers.MaxPooling2D) and layer.pool_size == layer.strides and layer.padding == "valid":
            x = tf.nn.max_pool2d(x, layer.pool_size, layer.strides, "VALID")
        elif isinstance(layer, layers.GlobalAveragePooling2D) and not layer.keepdims:
            x = tf.reduce_mean(x, axis=[1, 2])
        else:
            raise Unsupported(f"{type(layer).__name__} {layer.name}")
    return x


def _weights(layer: layers.Layer) -> list[np.ndarray]:
    """The layer's weights as arrays, read eagerly while its graph is traced (they become constants)."""
    import tensorflow as tf

    with tf.init_scope():
        return layer.get_weights()


def _activated(layer: layers.Conv2D | layers.Dense, x):
    import keras
    import tensorflow as tf

    activation = layer.activation
    if activation is keras.activations.linear:
        return x
    if activation is keras.activations.relu:
        return tf.nn.relu(x)
    if activation is keras.activations.softmax:
        return tf.nn.softmax(x)
    raise Unsupported(f"activation {activation.__name__} of {layer.name}")


def _plain_conv(layer: layers.Conv2D) -> bool:
    return (
        layer.strides == (1, 1)
        and layer.dilation_rate == (1, 1)
        and layer.groups == 1
        and layer.data_format == "channels_last"
        and layer.padding in ("same", "valid")
    )


def _plain_relu(layer: layers.ReLU) -> bool:
    return layer.max_value is None and float(layer.negative_slope) == 0.0 and float(layer.threshold) == 0.0


def main(paths: list[str]) -> int:
    """Write the OpenCV copy of each `.keras` file named."""
    for path in paths:
        print(f"wrote {write_opencv_file(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
