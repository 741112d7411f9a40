"""Training the second look (`fer_core.faces.second_look`) on the verifier's training boxes."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fer_core.faces.second_look import SECOND_LOOK_PATH
from fer_core.training.verifier import class_balance, report_held_out, training_boxes


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1e-2, steps: int = 25) -> np.ndarray:
    """Weights (last: the bias) of a logistic regression of `labels` (0/1) on `features`, each class weighing
    as much as the other, with an L2 penalty on all but the bias: Newton's method, to convergence."""
    x = np.c_[features, np.ones(len(features))].astype(np.float64)
    sample = np.where(labels == 1, 0.5 / labels.mean(), 0.5 / (1 - labels.mean())) / len(labels)
    penalty = np.full(x.shape[1], 2 * l2)
    penalty[-1] = 0.0
    weights = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ weights))
        gradient = x.T @ (sample * (p - labels)) + penalty * weights
        hessian = (x * (sample * p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights


def train(
    data: Path, out: Path = SECOND_LOOK_PATH, frames: int = 200, seed: int = 101, epochs: int = 3, rate: float = 3e-4
) -> None:
    """The live model's layers with a face-or-not layer, learned from the verifier's training boxes in two
    steps: the layer fitted alone on the live model's features (`fit_logistic`), then every layer trained
    on from there for `epochs` (the features, learned for emotions, then learn faces from boxes too), a
    tenth of the boxes held out to show how well it tells them apart."""
    from fer_core.model.classifier import LIVE_MODEL, import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    crops, labels, held = training_boxes(data, frames, np.random.default_rng(seed))
    x = crops[..., None].astype(np.float32)

    live = keras.models.load_model(LIVE_MODEL, compile=False, safe_mode=True)
    pooled = next(layer for layer in reversed(live.layers) if isinstance(layer, keras.layers.GlobalAveragePooling2D))
    face = live.inputs[0]  # the tensor, not a list of one: the model is then called with a batch as it is
    trunk = keras.Model(face, pooled.output)
    features = trunk.predict(x[~held], batch_size=512, verbose=0)
    mean, spread = features.mean(0), features.std(0) + 1e-6
    weights = fit_logistic((features - mean) / spread, labels[~held])
    # The standardisation folded into the one dense layer: w . (f - mean) / spread + b.
    dense = keras.layers.Dense(1, dtype="float32", name="face_logodds")
    model = keras.Model(face, dense(trunk.output), name="face_second_look")
    kernel = (weights[:-1] / spread)[:, None]
    dense.set_weights([kernel.astype(np.float32), np.array([weights[-1] - mean @ kernel[:, 0]], np.float32)])
    _report("the fitted layer alone", model, x[held], labels[held])

    model.compile(optimizer=keras.optimizers.Adam(rate), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(x[~held], labels[~held], batch_size=128, epochs=epochs, class_weight=class_balance(labels), verbose=2)
    _report(f"every layer trained on for {epochs} epochs", model, x[held], labels[held])
    out.parent.mkdir(parents=True, exist_ok=True)
    bare = keras.Model(model.inputs[0], model.outputs[0], name="face_second_look")  # without the optimizer's state
    bare.save(out)
    print(f"wrote {out}")


def _report(step: str, model, x: np.ndarray, labels: np.ndarray) -> None:
    report_held_out(step, model.predict(x, batch_size=512, verbose=0)[:, 0], labels, (0.0, 4.0, 8.0, 10.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="FER2013 folder with train/<class>/ images")
    parser.add_argument("--out", type=Path, default=SECOND_LOOK_PATH)
    parser.add_argument("--frames", type=int, default=200, help="face frames, and twice as many face-free ones")
    parser.add_argument("--seed", type=int, default=101, help="of the frames, the held-out boxes and the training")
    parser.add_argument("--epochs", type=int, default=3, help="of training every layer, after the fitted one")
    parser.add_argument("--rate", type=float, default=3e-4, help="the learning rate of that training (Adam)")
    args = parser.parse_args()
    train(args.data, args.out, args.frames, args.seed, args.epochs, args.rate)


if __name__ == "__main__":
    main()
