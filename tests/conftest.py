"""Shared fixtures: repo root on sys.path, real face photos, the shipped model, FER2013 location."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FER2013 = ROOT.parent / "shared" / "fer2013"


@pytest.fixture(scope="session")
def fer2013() -> Path:
    if not (FER2013 / "test").is_dir():
        pytest.skip(f"FER2013 not found at {FER2013} (the data set is not shipped; see README)")
    return FER2013


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """A smiling frontal face (scikit-image's sample photo), as BGR."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


@pytest.fixture(scope="session")
def pipeline():
    from fer_core.classifier import DEFAULT_MODEL
    from fer_core.pipeline import EmotionPipeline

    return EmotionPipeline.load(os.environ.get("FER_MODEL") or DEFAULT_MODEL)
