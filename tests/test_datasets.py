import csv

import cv2
import numpy as np
import pytest

from fer_core.datasets import CSV_CLASS_ORDER, DatasetError, load_csv, load_folder, load_split
from fer_core.labels import EMOTIONS


@pytest.fixture
def small_fer(tmp_path):
    """The same 14 random faces written as a Kaggle-style folder tree and as the challenge CSV."""
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (14, 48, 48), np.uint8)
    labels = np.arange(14) % 7
    rows = []
    for i, (face, label) in enumerate(zip(faces, labels)):
        name = EMOTIONS[label]
        folder = tmp_path / "fer" / "train" / name
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"Training_{i:03d}.png"), face)  # png: lossless, so pixels compare exactly
        rows.append(
            {"emotion": CSV_CLASS_ORDER.index(name), "pixels": " ".join(map(str, face.ravel())), "Usage": "Training"}
        )
    for challenge_number in (3, 4, 6):  # happy, sad, neutral in the challenge's numbering
        rows.append({"emotion": challenge_number, "pixels": " ".join(["7"] * 2304), "Usage": "PublicTest"})
    with (tmp_path / "fer2013.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["emotion", "pixels", "Usage"])
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def _sorted(dataset):
    order = np.lexsort(dataset.images.reshape(len(dataset), -1)[:, :8].T[::-1])
    return dataset.images[order], dataset.labels[order]


def test_folder_and_csv_readers_give_the_same_arrays(small_fer):
    folder = load_folder(small_fer / "fer" / "train")
    table = load_csv(small_fer / "fer2013.csv", "train")
    assert len(folder) == len(table) == 14
    images_a, labels_a = _sorted(folder)
    images_b, labels_b = _sorted(table)
    assert np.array_equal(images_a, images_b)
    assert np.array_equal(labels_a, labels_b)
    assert folder.class_counts() == {name: 2 for name in EMOTIONS}


def test_csv_maps_challenge_numbering_to_project_order(small_fer):
    test = load_split(small_fer / "fer2013.csv", "test")
    assert [EMOTIONS[label] for label in test.labels] == ["happy", "sad", "neutral"]


def test_bad_paths_give_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_split(tmp_path / "nope", "train")
    (tmp_path / "cats").mkdir()
    with pytest.raises(DatasetError, match="not emotion classes"):
        load_folder(tmp_path)
    with pytest.raises(DatasetError, match="no train/ folder"):
        load_split(tmp_path, "train")


def test_reads_the_real_fer2013_test_split(fer2013):
    test = load_folder(fer2013 / "test")
    assert len(test) == 3589
    assert test.class_counts()["disgust"] == 56
    assert test.images.shape[1:] == (48, 48)
