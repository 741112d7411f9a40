"""The emotion classes, in the order the model's outputs use, and what a face's probabilities say."""

import numpy as np

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

# Grouping used by the dashboard's valence view.
VALENCE: dict[str, tuple[str, ...]] = {
    "positive": ("happy", "surprise"),
    "neutral": ("neutral",),
    "negative": ("angry", "disgust", "fear", "sad"),
}

# One colour per emotion (hex), shared by boxes drawn on images and by the charts.
EMOTION_COLORS: dict[str, str] = {
    "angry": "#e6194b",
    "disgust": "#3cb44b",
    "fear": "#911eb4",
    "happy": "#ffc107",
    "neutral": "#9e9e9e",
    "sad": "#4363d8",
    "surprise": "#f58231",
}


class Reading:
    """What a face's seven probabilities say, for a class with `probs` ((7,) in EMOTIONS order) and
    `unsure_below` (the model's threshold: a top probability under it is too low to name one emotion)."""

    probs: np.ndarray
    unsure_below: float

    @property
    def label(self) -> str:
        return EMOTIONS[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))

    @property
    def runner_up(self) -> str:
        """The second most likely emotion."""
        return EMOTIONS[int(np.argsort(self.probs)[-2])]

    @property
    def unsure(self) -> bool:
        return self.confidence < self.unsure_below

    @property
    def caption(self) -> str:
        """ "happy 87%", or where the model is unsure its top two: "sad or neutral?"."""
        if self.unsure:
            return f"{self.label} or {self.runner_up}?"
        return f"{self.label} {self.confidence:.0%}"
