"""Shared fixtures: repo root on sys.path, real face photos, the shipped model, FER2013 location."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Hypothesis profiles: how many examples a property test draws where the test does not fix it.
# "suite" (the default) draws 50; HYPOTHESIS_PROFILE=thorough draws 200, for a deeper search of the
# decoder after a change to it (see tests/test_fuzz.py for which properties stop finding new code paths).
settings.register_profile("suite", max_examples=50)
settings.register_profile("thorough", max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

# $FER_DATA (fer_core.paths.DATA_ENV) when set, else the copy shared beside the project folder.
FER2013 = Path(os.environ.get("FER_DATA") or ROOT.parent / "shared" / "fer2013")


@pytest.fixture(scope="session")
def fer2013() -> Path:
    if not (FER2013 / "test").is_dir():
        pytest.skip(f"FER2013 not found at {FER2013} (set FER_DATA; the data set is not shipped, see README)")
    return FER2013


# Real photos of faces (news and web pictures, one class folder each): ../shared/wild-dev, not shipped.
WILD_DEV = ROOT.parent / "shared" / "wild-dev"


@pytest.fixture(scope="session")
def wild_dev() -> Path:
    if not any(WILD_DEV.glob("*/*.jpg")):
        pytest.skip(f"no real photos at {WILD_DEV} (the wild-dev set is not shipped)")
    return WILD_DEV


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """A smiling frontal face (scikit-image's sample photo), as BGR."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@pytest.fixture(scope="session")
def pipeline():
    from fer_core.model.classifier import DEFAULT_MODEL
    from fer_core.pipeline import EmotionPipeline

    return EmotionPipeline.load(os.environ.get("FER_MODEL") or DEFAULT_MODEL)


@pytest.fixture(scope="session")
def photo_model():
    """The shipped photo model (`models/fer_vgg`, built from its members' files) as a Keras model, loaded
    once for the tests that inspect it."""
    from fer_core.model.classifier import DEFAULT_MODEL, load_model

    return load_model(DEFAULT_MODEL)


@pytest.fixture
def tiny_fer(tmp_path) -> Path:
    """A FER2013-shaped folder tree with 6 random faces per class in train/ and 2 in test/."""
    import cv2

    from fer_core.labels import EMOTIONS

    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("test", 2)):
        for name in EMOTIONS:
            folder = tmp_path / "fer" / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (48, 48), np.uint8))
    return tmp_path / "fer"
