"""The CNN: a VGG-style network with batch norm, sized for fast CPU inference, and the
project's own layers (registered, so saved models that use them load in safe mode)."""

from __future__ import annotations

import keras
from keras import layers

from fer_core.labels import EMOTIONS
from fer_core.model.preprocess import FACE_SIZE


@keras.saving.register_keras_serializable(package="fer_core")
class HorizontalFlip(layers.Layer):
    """The mirror image of a face (a fixed, not random, flip): lets a model also look at
    the mirrored face and average the two readings."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="fer_core")
class Shift(layers.Layer):
    """The face moved by (dx, dy) pixels, its edge mirrored into the gap (a fixed, not random,
    shift; the same view as the classifier's `shift-flip` test-time augmentation)."""

    def __init__(self, dx: int = 0, dy: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.dx, self.dy = int(dx), int(dy)

    def call(self, inputs):
        pad = max(abs(self.dx), abs(self.dy))
        if not pad:
            return inputs
        padded = keras.ops.pad(inputs, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="symmetric")
        top, left = pad + self.dy, pad + self.dx
        return padded[:, top : top + FACE_SIZE, left : left + FACE_SIZE]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "dx": self.dx, "dy": self.dy}


def face_views(faces, shifts: tuple[tuple[int, int], ...]) -> list:
    """The views a model reads of a batch of faces: each (dx, dy) shift, then the mirror image of
    each shifted copy (so 2 views per shift). Used by the classifier's test-time augmentation and
    baked into ensemble files alike; the layers are named, and an unshifted view is the input itself."""
    shifted = [Shift(dx, dy, name=f"shift_{i}")(faces) if dx or dy else faces for i, (dx, dy) in enumerate(shifts)]
    return shifted + [HorizontalFlip(name=f"mirror_{i}")(face) for i, face in enumerate(shifted)]


def build_vgg(
    widths: tuple[int, ...] = (32, 64, 128, 256), convs_per_block: int = 2, dropout: float = 0.3
) -> keras.Model:
    """Blocks of (3x3 conv, BN, ReLU) x n followed by 2x2 max-pooling, then a small head.

    Takes raw uint8 pixels (N, 48, 48, 1); rescaling lives inside the model so every caller
    feeds the same thing the training pipeline fed.
    """
    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")
    x = layers.Rescaling(1 / 255.0)(inputs)
    for block, width in enumerate(widths):
        for conv in range(convs_per_block):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{block + 1}_{conv + 1}")(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(min(0.05 * (block + 1), 0.2))(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(len(EMOTIONS), activation="softmax", name="emotion")(x)
    return keras.Model(inputs, outputs, name="fer_vgg")


ARCHITECTURES = {"vgg": build_vgg}


def for_inference(model: keras.Model) -> keras.Model:
    """A copy of `model` that computes the same at inference, faster: each batch normalisation that
    follows a convolution or dense layer (its only input, and that layer's only use) is folded into the
    layer's weights and bias, in nested models (ensemble members) too. The copy cannot be trained.

    At inference a batch normalisation is a fixed scale and shift of each channel, so it is the same as
    scaling the layer's kernel and shifting its bias; folded, it no longer costs a pass over every
    activation map, and the convolution, bias and ReLU run as one fused operation. A model with nothing
    to fold, or a Sequential one (its layers are listed, not called, so there is no graph to rewire), is
    returned as it is."""
    if isinstance(model, keras.Sequential):
        return model
    folds: dict[int, layers.BatchNormalization] = {}  # id of a conv/dense layer -> the normalisation after it
    _find_folds(model, folds)
    if not folds:
        return model
    folded = {id(norm) for norm in folds.values()}
    pairs: list[tuple[layers.Layer, layers.Layer]] = []  # (layer of `model`, its copy)
    skipped: set[int] = set()  # ids of the copies of folded normalisations, never called

    def clone(layer: layers.Layer) -> layers.Layer:
        config = layer.get_config()
        if id(layer) in folds:
            config["use_bias"] = True
        copy = layer.__class__.from_config(config)
        if id(layer) in folded:
            skipped.add(id(copy))
        pairs.append((layer, copy))
        return copy

    def call(layer: layers.Layer, *args, **kwargs):
        return args[0] if id(layer) in skipped else layer(*args, **kwargs)

    copy = keras.models.clone_model(model, clone_function=clone, call_function=call, recursive=True)
    for layer, twin in pairs:
        if id(layer) in folds:
            twin.set_weights(_folded_weights(layer, folds[id(layer)]))
        elif id(layer) not in folded:
            twin.set_weights(layer.get_weights())
    return copy


def _find_folds(model: keras.Model, folds: dict[int, layers.BatchNormalization]) -> None:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            if not isinstance(layer, keras.Sequential):  # `clone_model` rewires functional members only
                _find_folds(layer, folds)
        elif isinstance(layer, layers.BatchNormalization) and len(layer._inbound_nodes) == 1:
            inputs = layer._inbound_nodes[0].input_tensors
            before = inputs[0]._keras_history.operation if len(inputs) == 1 else None
            if (
                isinstance(before, (layers.Conv2D, layers.Dense))
                and before.activation is keras.activations.linear
                and len(before._outbound_nodes) == 1
                and layer.axis in (-1, len(before.output.shape) - 1)
            ):
                folds[id(before)] = layer


def _folded_weights(layer: layers.Layer, norm: layers.BatchNormalization) -> list:
    """The kernel and bias of `layer` followed by `norm` (at inference), as one layer's."""
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    bias = keras.ops.convert_to_numpy(layer.bias).astype("float64") if layer.use_bias else 0.0
    mean, variance = (keras.ops.convert_to_numpy(w).astype("float64") for w in (norm.moving_mean, norm.moving_variance))
    gamma = keras.ops.convert_to_numpy(norm.gamma).astype("float64") if norm.scale else 1.0
    beta = keras.ops.convert_to_numpy(norm.beta).astype("float64") if norm.center else 0.0
    scale = gamma / (variance + norm.epsilon) ** 0.5
    return [kernel * scale, (bias - mean) * scale + beta]
