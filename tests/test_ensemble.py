"""Averaging trained models into one: the maths, the manifest it is loaded from, and what is written beside it."""

import json

import keras
import numpy as np
import pytest

from fer_core.cli import main
from fer_core.datasets import load_split
from fer_core.labels import EMOTIONS
from fer_core.model.architecture import build_vgg
from fer_core.model.classifier import Classifier, ModelError, SureFirst
from fer_core.model.ensemble import MANIFEST_FILE, build_ensemble, write_manifest
from fer_core.reporting.artifacts import CARD_FILE, EVALUATION_FILE, MODEL_FILE, read_run


def small_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_vgg(widths=(4, 8), convs_per_block=1)


def member_run(directory, seed: int):
    """A trained model's directory as training leaves it: the model and its card."""
    directory.mkdir(parents=True)
    small_model(seed).save(directory / MODEL_FILE)
    card = {"architecture": "vgg", "training_seconds": 100.0 + seed, "trained": f"2026-11-2{seed}T10:00:00+00:00"}
    card["config"] = {"seed": seed}
    (directory / CARD_FILE).write_text(json.dumps(card))
    return directory


def faces(n: int = 5) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (n, 48, 48, 1), np.uint8)


def test_the_ensemble_outputs_the_mean_of_its_members(tmp_path):
    members = [small_model(1), small_model(2)]
    plain = [Classifier.from_keras(m).predict_batch(faces()) for m in members]
    mirrored = [Classifier.from_keras(m).predict_batch(faces()[:, :, ::-1]) for m in members]
    assert not np.allclose(plain[0], plain[1])  # otherwise the mean proves nothing
    assert not np.allclose(plain[0], mirrored[0])

    build_ensemble(members, views="none").save(tmp_path / "plain.keras")
    build_ensemble(members, views="flip").save(tmp_path / "mirror.keras")
    # plain layers and the registered flip only: safe mode loads both
    assert np.allclose(Classifier.load(tmp_path / "plain.keras").predict_batch(faces()), np.mean(plain, 0), atol=1e-5)
    expected = np.mean(plain + mirrored, axis=0)
    assert np.allclose(Classifier.load(tmp_path / "mirror.keras").predict_batch(faces()), expected, atol=1e-5)


def test_one_member_read_in_ten_views_matches_the_classifiers_shift_flip(tmp_path):
    member = small_model(1)
    build_ensemble([member], views="shift-flip").save(tmp_path / "views.keras")
    baked = Classifier.load(tmp_path / "views.keras").predict_batch(faces())  # the registered Shift loads in safe mode
    plain = Classifier.from_keras(member).predict_batch(faces())
    assert not np.allclose(baked, plain, atol=1e-4)  # the views change the answer ...
    like_tta = Classifier.from_keras(member, tta="shift-flip").predict_batch(faces())
    assert np.allclose(baked, like_tta, atol=1e-5)  # ... like --tta


def test_one_member_in_one_view_is_not_an_ensemble():
    with pytest.raises(ValueError, match="at least two members"):
        build_ensemble([small_model(1)], views="none")
    with pytest.raises(ValueError, match="unknown views"):
        build_ensemble([small_model(1), small_model(2)], views="ten")


def test_a_manifest_loads_as_the_mean_of_its_members_files(tmp_path):
    members = [member_run(tmp_path / "models" / f"run{seed}", seed) for seed in (1, 2)]
    manifest = write_manifest(members, tmp_path / "models" / "ensemble", views="flip")
    assert json.loads(manifest.read_text()) == {"members": ["../run1", "../run2"], "views": "flip"}
    assert sorted(p.name for p in manifest.parent.iterdir()) == [MANIFEST_FILE]  # no copy of the weights
    built = build_ensemble([keras.models.load_model(m / MODEL_FILE) for m in members], views="flip")
    loaded = Classifier.load(manifest.parent).predict_batch(faces())
    assert np.array_equal(loaded, Classifier.from_keras(built).predict_batch(faces()))


def test_the_shipped_photo_model_is_a_manifest_of_its_four_members(photo_model):
    from fer_core.model.classifier import DEFAULT_MODEL

    assert not (DEFAULT_MODEL / MODEL_FILE).exists()
    members = json.loads((DEFAULT_MODEL / MANIFEST_FILE).read_text())["members"]
    # the member that also trained on real photos reads first: most faces are sure after it (sure_at)
    assert members == ["../fer_vgg_real_s26", "../fer_vgg_s21", "../fer_vgg_s22", "../fer_vgg_s27"]
    nested = [layer.name for layer in photo_model.layers if isinstance(layer, keras.Model)]
    assert nested == [f"member_{i}" for i in range(1, 5)]


def test_the_command_writes_a_manifest_evaluation_and_card(tmp_path, tiny_fer):
    members = [member_run(tmp_path / "models" / f"run{seed}", seed) for seed in (1, 2)]
    out = tmp_path / "models" / "ensemble"
    assert main(["ensemble", *map(str, members), "--data", str(tiny_fer), "--out", str(out)]) == 0

    test = load_split(tiny_fer, "test")
    predicted = Classifier.load(out).predict_batch(test.images[..., None]).argmax(axis=1)
    run = read_run(out)
    assert run.evaluation.n == len(test)
    assert run.evaluation.accuracy == pytest.approx(np.mean(predicted == test.labels))
    assert run.card.members == ["run1", "run2"]
    assert run.card.training_seconds == 203.0
    assert run.card.trained == "2026-11-21T10:00:00+00:00"
    assert run.card.parameters == sum(Classifier.load(m / MODEL_FILE).model.count_params() for m in members)
    assert run.card.file_size_bytes == sum((m / MODEL_FILE).stat().st_size for m in members)
    assert run.card.data.path == "fer"  # the data folder's name, not where it is on this machine
    assert run.card.data.train_counts == {name: 6 for name in EMOTIONS}  # the dashboard's "Images per class"
    assert run.problems == []  # no history of its own is expected of an ensemble
    assert json.loads((out / EVALUATION_FILE).read_text())["accuracy"] == run.evaluation.accuracy


def test_refuses_to_overwrite_a_member_or_use_a_non_run(tmp_path):
    members = [member_run(tmp_path / f"run{seed}", seed) for seed in (1, 2)]
    with pytest.raises(ValueError, match="its own folder"):
        write_manifest(members, members[0])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a trained network's folder"):
        write_manifest([members[0], tmp_path / "empty"], tmp_path / "out")


def test_a_damaged_manifest_is_one_clear_error(tmp_path):
    (tmp_path / MANIFEST_FILE).write_text('{"members": []}')
    with pytest.raises(ModelError, match="lists no members"):
        Classifier.load(tmp_path)


def test_cli_says_what_is_wrong_in_one_line(tmp_path, tiny_fer, capsys):
    assert main(["ensemble", str(tmp_path / "nowhere"), str(tmp_path / "none"), "--data", str(tiny_fer)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "not a trained network's folder" in error
    assert error.count("\n") == 1


def test_sure_first_reads_each_face_only_until_it_is_sure():
    probs = [  # three members' probabilities of three faces (two classes are enough here)
        np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]]),
        np.array([[0.1, 0.9], [0.9, 0.1], [0.4, 0.6]]),
        np.array([[0.0, 1.0], [0.0, 1.0], [0.3, 0.7]]),
    ]
    read = []

    def member(i):
        def run(faces):
            read.append((i, faces.tolist()))
            return probs[i][faces]

        return run

    out = SureFirst([member(i) for i in range(3)], sure_at=0.65)(np.arange(3))
    # face 0 is sure after the first member; face 1 after two (mean 0.7, 0.3); face 2 never: all three read it
    assert read == [(0, [0, 1, 2]), (1, [1, 2]), (2, [2])]
    assert np.allclose(out, [[0.9, 0.1], [0.7, 0.3], [13 / 30, 17 / 30]])


def test_a_manifest_with_sure_at_loads_as_members_read_in_turn(tmp_path):
    members = [member_run(tmp_path / "models" / f"run{seed}", seed) for seed in (1, 2)]
    networks = [keras.models.load_model(m / MODEL_FILE) for m in members]
    alone = [Classifier.from_keras(network, tta="flip").predict_batch(faces(40)) for network in networks]
    sure_at = float(np.median(alone[0].max(axis=1)))  # half the faces stop after the first member
    manifest = write_manifest(members, tmp_path / "models" / "ensemble", views="flip", sure_at=sure_at)
    assert json.loads(manifest.read_text())["sure_at"] == sure_at

    loaded = Classifier.load(manifest.parent).predict_batch(faces(40))
    first_is_sure = alone[0].max(axis=1) >= sure_at
    assert 0 < first_is_sure.sum() < 40
    expected = np.where(first_is_sure[:, None], alone[0], np.mean(alone, axis=0))
    assert np.allclose(loaded, expected, atol=1e-5)
    assert main(["ensemble", *map(str, members), "--data", "x", "--sure-at", "1.5", "--out", str(tmp_path / "e")]) == 1
    with pytest.raises(ValueError, match="sure_at must be a probability"):
        write_manifest(members, tmp_path / "e2", sure_at=-0.1)
