"""Home: what the app does and how good the shipped model is."""

import streamlit as st

from fer_core import __version__
from fer_core.paths import shown_path
from fer_core.reporting.artifacts import EVALUATION_FILE, MODEL_FILE
from fer_core.reporting.evaluation import read_evaluation
from fer_core.resources import model_path, run_inside_app

run_inside_app()

st.title("Facial emotion recognition")
st.write(
    "Finds every face in a photo or a live webcam stream and reads its expression as one of seven "
    "emotions: angry, disgust, fear, happy, neutral, sad, surprise. Faces are found with OpenCV's "
    "Haar cascade and classified by a convolutional network trained by this project on FER2013."
)

model = model_path()
folder = model if model.is_dir() else model.parent  # a model's folder, or the folder of a .keras file
model_name = model.stem if model.is_file() and model.name != MODEL_FILE else folder.name
evaluation_file = folder / EVALUATION_FILE
try:
    evaluation = read_evaluation(evaluation_file)
except (OSError, ValueError, KeyError, TypeError):
    st.caption(f"Version {__version__} · model `{model_name}`")
    st.warning(f"No readable evaluation of the model at `{shown_path(evaluation_file)}`.")
else:
    st.caption(f"Version {__version__} · model `{model_name}` · {evaluation.accuracy:.1%} accuracy on FER2013 test")
    left, right, third = st.columns(3)
    left.metric("Test accuracy (FER2013)", f"{evaluation.accuracy:.1%}")
    right.metric("Macro-F1", f"{evaluation.macro_f1:.3f}")
    third.metric("Test images", f"{evaluation.n:,}")
    st.caption("Human agreement on FER2013 is about 65%: the faces are small, grayscale and often ambiguous.")

st.subheader("Pages")
# Short labels: a page link does not wrap, and a longer one runs off a phone's screen (390 px).
st.page_link("pages/photo.py", label="Photo: every face in a picture", icon=":material/photo_camera:")
st.page_link("pages/live.py", label="Live: your webcam, annotated", icon=":material/videocam:")
st.page_link("pages/video.py", label="Video: every face in a clip", icon=":material/movie:")
st.page_link("pages/dashboard.py", label="Training dashboard: how it was trained", icon=":material/monitoring:")
