"""Distillation: a network learns from the labels and from a frozen teacher's softened probabilities
(Hinton et al., 2015). The student reads the same augmented batch as the teacher."""

from __future__ import annotations

from fer_core.labels import EMOTIONS
from fer_core.model.preprocess import FACE_SIZE


def _student_and_teacher(y_pred):
    n = len(EMOTIONS)
    return y_pred[:, :n], y_pred[:, n:]


def distillation_loss(hard_weight: float, temperature: float, label_smoothing: float):
    """Label loss (smoothed cross-entropy) plus the teacher's: KL divergence between the
    temperature-softened teacher and student distributions, scaled by T^2."""
    import keras
    from keras import ops

    cross_entropy = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    t = temperature

    def soften(probs):
        return ops.softmax(ops.log(ops.clip(probs, 1e-7, 1.0)) / t, axis=-1)

    def loss(y_true, y_pred):
        student, teacher = _student_and_teacher(y_pred)
        soft_teacher, soft_student = soften(teacher), soften(student)
        kl = ops.sum(soft_teacher * (ops.log(soft_teacher + 1e-7) - ops.log(soft_student + 1e-7)), axis=-1)
        return hard_weight * cross_entropy(y_true, student) + (1 - hard_weight) * t * t * ops.mean(kl)

    return loss


def student_accuracy(y_true, y_pred):
    import keras

    return keras.metrics.categorical_accuracy(y_true, _student_and_teacher(y_pred)[0])


def load_teacher(paths: tuple[str, ...]):
    """The teacher: the mean of the given models' probabilities over each face and its mirror image."""
    from fer_core.model.classifier import load_model
    from fer_core.model.ensemble import build_ensemble

    teacher = build_ensemble([load_model(p) for p in paths], views="flip", name="teacher")
    teacher.trainable = False
    return teacher


def trainer_model(net, stage):
    """(model to fit, loss, metrics): the network alone, or beside the frozen teacher it learns from."""
    import keras
    from keras import layers

    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")  # faces augmented on the host
    if stage.teacher:
        teacher = load_teacher(stage.teacher)
        outputs = layers.Concatenate(name="student_and_teacher")([net(inputs), teacher(inputs)])
        loss = distillation_loss(stage.hard_weight, stage.temperature, stage.label_smoothing)
        return keras.Model(inputs, outputs, name="trainer"), loss, [student_accuracy]
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=stage.label_smoothing)
    return keras.Model(inputs, net(inputs), name="trainer"), loss, ["accuracy"]
