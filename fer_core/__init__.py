"""fer_core: find faces, classify their emotion, train and evaluate the model."""

from fer_core.labels import EMOTIONS

__all__ = ["EMOTIONS"]
