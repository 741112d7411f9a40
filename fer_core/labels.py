"""The emotion classes, in the order the model's outputs use."""

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
