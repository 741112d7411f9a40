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
"""

from __future__ import annotations

import threading
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
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if tf.config.list_physical_devices("GPU"):
        return None
    try:
        spec = tf.TensorSpec((None, FACE_SIZE, FACE_SIZE, 1))
        forward = tf.function(lambda x: _written(model, x), input_signature=[spec], autograph=False)
        graph = convert_variables_to_constants_v2(forward.get_concrete_function()).graph.as_graph_def()
    except Unsupported:
        return None
    try:
        net = OpenCVNet(cv2.dnn.readNetFromTensorflow(np.frombuffer(graph.SerializeToString(), np.uint8)))
    except cv2.error:  # an OpenCV build that reads the graph otherwise: TensorFlow it is
        return None
    faces = np.random.default_rng(0).uniform(0, 255, (4, FACE_SIZE, FACE_SIZE, 1)).astype(np.float32)
    expected = np.asarray(model(faces, training=False)).reshape(len(faces), -1)
    if not np.allclose(net(faces), expected, rtol=1e-3, atol=1e-4):
        return None
    return net


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
