"""The one model-card writer: a model's test-split evaluation and `model_card.json`, with no path of
the machine that wrote them.

The trainer calls `write_card` after a run with what training knows (architecture, epochs, stages,
the recipe); `python -m fer_core ensemble` calls it for an ensemble's manifest. Both get the same
measured fields (test scores, speed, software, summary). Paths are stored relative to the project
folder, or as their last part when outside it (`portable_path`).
"""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.model.classifier import Classifier
from fer_core.paths import PROJECT_DIR
from fer_core.reporting.artifacts import CARD_FILE, EVALUATION_FILE
from fer_core.reporting.evaluation import evaluate_predictions, write_evaluation

INPUT = "48x48 grayscale face crop, uint8"


def portable_path(path: str | Path | None) -> str | None:
    """`path` as a card records it: relative to the project folder when inside it, else only its
    last part (`/data/fer2013` -> `fer2013`), so a card never names the trainer's machine."""
    if path is None:
        return None
    resolved = Path(path).resolve()
    if resolved.is_relative_to(PROJECT_DIR):
        return resolved.relative_to(PROJECT_DIR).as_posix() or "."
    return resolved.name


def class_counts(labels: np.ndarray) -> dict[str, int]:
    return {name: int(n) for name, n in zip(EMOTIONS, np.bincount(labels, minlength=len(EMOTIONS)))}


def write_card(
    model_dir: str | Path,
    test_faces: np.ndarray,
    test_labels: np.ndarray,
    facts: dict,
    data: str | Path,
    train_labels: np.ndarray | None = None,
    log=print,
) -> dict:
    """Score the model in `model_dir` on (N, 48, 48, 1) uint8 `test_faces`, write `evaluation.json`,
    then `model_card.json`: `facts` (what its maker knows) and what is measured here. Returns the card."""
    model_dir = Path(model_dir)
    data_name = portable_path(data)
    classifier = Classifier.load(model_dir)
    probs = classifier.predict_batch(test_faces)
    evaluation = evaluate_predictions(test_labels, probs.argmax(axis=1), data=f"{data_name} (test split)")
    write_evaluation(evaluation, model_dir / EVALUATION_FILE)
    log(f"{model_dir.name}: test accuracy {evaluation.accuracy:.4f}, macro-F1 {evaluation.macro_f1:.4f}")
    counts = {"test_counts": class_counts(test_labels)}
    if train_labels is not None:
        counts = {"train_counts": class_counts(train_labels), **counts}
    hardware = hardware_description()
    card = {
        "name": model_dir.name,
        "parameters": int(classifier.model.count_params()),
        "file_size_bytes": _file_size(model_dir),
        "input": INPUT,
        "labels": list(EMOTIONS),
        "hardware": hardware,
        **facts,
        "data": {"path": data_name, **counts},
        "finished": datetime.now(timezone.utc).isoformat(),
        "test_accuracy": evaluation.accuracy,
        "test_macro_f1": evaluation.macro_f1,
        "engine": classifier.engine,  # what scored and timed it: what the app runs on this machine
        "ms_per_face": round(classifier.time_single_face(faces=test_faces[:: max(1, len(test_faces) // 200)]), 3),
        "ms_per_face_measured_on": hardware,
        "software": software_versions(),
        "summary": model_summary(classifier.model),
    }
    (model_dir / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return card


def _file_size(model_dir: Path) -> int:
    """Bytes loading the model reads: its network file, or its ensemble members' files."""
    from fer_core.model.ensemble import MANIFEST_FILE, MEMBER_FILE, read_manifest

    if (model_dir / MANIFEST_FILE).is_file():
        return sum((d / MEMBER_FILE).stat().st_size for d in read_manifest(model_dir).member_dirs(model_dir))
    return (model_dir / MEMBER_FILE).stat().st_size


def training_stages(card: dict) -> list[dict]:
    """The training runs that made a model, oldest first, as its card records them:
    {"name", "epochs", "seconds"} each (a card without this record counts as one run)."""
    if isinstance(card.get("stages"), list):
        return card["stages"]
    return [{"name": card.get("name"), "epochs": card.get("epochs_run"), "seconds": card.get("training_seconds")}]


def earlier_stages(init_from: str | Path | None) -> list[dict]:
    """The stages behind the model a run starts from, read from the card in or beside it;
    a model without a card is one stage of unknown length."""
    if not init_from:
        return []
    start = Path(init_from)
    folder = start if start.is_dir() else start.parent
    try:
        return training_stages(json.loads((folder / CARD_FILE).read_text()))
    except (OSError, ValueError, AttributeError):
        return [{"name": folder.name, "epochs": None, "seconds": None}]


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


def hardware_description() -> str:
    """This machine's processor, cores and GPUs, e.g. "AMD EPYC 7B13, 2 cores, no GPU"."""
    from fer_core.model.classifier import import_tensorflow

    gpus = [d.name for d in import_tensorflow().config.list_physical_devices("GPU")]
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


def ensemble_facts(folder: str | Path) -> dict:
    """What an ensemble's card says beyond what is measured: its members, views and their lineage, and
    the real photos any member trained on, read from the manifest and the members' cards."""
    from fer_core.model.ensemble import read_manifest
    from fer_core.model.preprocess import TTA_VIEWS

    folder = Path(folder)
    manifest = read_manifest(folder)
    member_dirs = manifest.member_dirs(folder)
    cards = [json.loads((d / CARD_FILE).read_text()) for d in member_dirs]
    kinds = "/".join(sorted({c.get("architecture", "?") for c in cards}))
    shifts = TTA_VIEWS[manifest.views]
    described = f" over {2 * len(shifts)} views of each face" if shifts else ""
    if manifest.sure_at:
        described += f", read in turn until a face is {manifest.sure_at:.0%} sure"
    stages = list({stage.get("name"): stage for card in cards for stage in training_stages(card)}.values())
    hardware = sorted({c["hardware"] for c in cards if c.get("hardware")})
    real = {d.resolve().name: c["real_photos"] for d, c in zip(member_dirs, cards) if c.get("real_photos")}
    return {
        "architecture": f"ensemble: mean of {len(cards)} {kinds}{described}",
        "members": [d.resolve().name for d in member_dirs],
        "views": manifest.views,
        **({"sure_at": manifest.sure_at} if manifest.sure_at else {}),
        "training_seconds": round(sum(c.get("training_seconds") or 0 for c in cards), 1),
        **stage_totals(stages),
        **({"hardware": "; ".join(hardware)} if hardware else {}),
        "trained": min(c.get("trained") or "" for c in cards) or None,
        **({"real_photos": real} if real else {}),  # the members that also trained on real photos
        "config": {"members": {d.resolve().name: c.get("config", {}) for d, c in zip(member_dirs, cards)}},
    }
