"""Several trained models averaged into one model file.

Networks trained separately make partly different mistakes, so the mean of their
probabilities is right more often than any one of them; reading each face in several views
(mirrored, shifted) helps the same way, and works with a single member too. The ensemble is a
Keras model (the members nested inside, the registered flip and shift layers, an `Average`
layer), so it loads in safe mode and runs in one compiled call like a single network. Each
member keeps its own run directory in `models/` (history, evaluation, card); the ensemble's
card names them.
"""

from __future__ import annotations

import json
from pathlib import Path

from fer_core.datasets import load_split
from fer_core.labels import EMOTIONS
from fer_core.model.classifier import TTA_VIEWS, Classifier, ModelError, load_model
from fer_core.model.preprocess import FACE_SIZE
from fer_core.reporting.artifacts import CARD_FILE, EVALUATION_FILE, MODEL_FILE
from fer_core.reporting.evaluation import evaluate_predictions, write_evaluation


def build_ensemble(members: list, views: str = "flip", name: str = "fer_ensemble"):
    """One model whose output is the mean of the members' probabilities over the `views` of
    each face (named as the classifier's test-time augmentations: `none`, `flip` = the face
    and its mirror image, `shift-flip` = ten shifted and mirrored copies). Each view costs one
    more pass of every member."""
    import keras
    from keras import layers

    from fer_core.model.architecture import face_views

    if views not in TTA_VIEWS:
        raise ValueError(f"unknown views {views!r}; choose one of {', '.join(TTA_VIEWS)}")
    shifts = TTA_VIEWS[views]
    if len(members) < 2 and not shifts:
        raise ValueError("an ensemble needs at least two members, or one member read in several views")
    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")
    faces = face_views(inputs, shifts)
    outputs = []
    for i, member in enumerate(members, start=1):
        member.name = f"member_{i}"  # nested models need distinct names
        outputs += [member(face) for face in faces or [inputs]]
    return keras.Model(inputs, layers.Average(name="emotion")(outputs), name=name)


def write_ensemble(member_dirs: list[Path], out: Path, data: str | Path, views: str = "flip", log=print) -> Path:
    """Average the members' `model.keras` into `out/model.keras`, score it on the test split
    of `data`, and write its evaluation and model card beside it."""
    from fer_core.training.trainer import hardware_description, measured_card_fields, stage_totals, training_stages

    member_dirs = [Path(d) for d in member_dirs]
    for directory in member_dirs:
        if not (directory / MODEL_FILE).is_file() or not (directory / CARD_FILE).is_file():
            raise ModelError(f"{directory} is not a trained model's directory (needs {MODEL_FILE} and {CARD_FILE})")
    if Path(out).resolve() in {d.resolve() for d in member_dirs}:
        raise ValueError("write the ensemble to its own directory, not over one of its members")
    cards = [json.loads((d / CARD_FILE).read_text()) for d in member_dirs]
    model = build_ensemble([load_model(d / MODEL_FILE) for d in member_dirs], views=views)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL_FILE)

    test = load_split(data, "test")
    classifier = Classifier.load(out / MODEL_FILE)
    probs = classifier.predict_batch(test.images[..., None])
    evaluation = evaluate_predictions(test.labels, probs.argmax(axis=1), data=f"{data} (test split)")
    write_evaluation(evaluation, out / EVALUATION_FILE)
    scores = f"test accuracy {evaluation.accuracy:.4f}, macro-F1 {evaluation.macro_f1:.4f}"
    log(f"ensemble of {len(member_dirs)} ({views} views): {scores}")

    hardware = hardware_description()
    kinds = "/".join(sorted({c.get("architecture", "?") for c in cards}))
    described = f" over {2 * len(TTA_VIEWS[views])} views of each face" if TTA_VIEWS[views] else ""
    card = {
        "name": out.name,
        "architecture": f"ensemble: mean of {len(cards)} {kinds}{described}",
        "members": [d.name for d in member_dirs],
        "views": views,
        "parameters": int(model.count_params()),
        "file_size_bytes": (out / MODEL_FILE).stat().st_size,
        "input": "48x48 grayscale face crop, uint8",
        "labels": list(EMOTIONS),
        "training_seconds": round(sum(c.get("training_seconds") or 0 for c in cards), 1),
        **stage_totals(list({stage.get("name"): stage for card in cards for stage in training_stages(card)}.values())),
        "hardware": cards[0].get("hardware", hardware),
        "data": cards[0].get("data", {"path": str(data)}),
        "trained": min(c.get("trained") or "" for c in cards) or None,
        "config": {"members": {d.name: c.get("config", {}) for d, c in zip(member_dirs, cards)}},
        **measured_card_fields(model, classifier, evaluation, hardware),
    }
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return out
