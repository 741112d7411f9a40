"""Facial emotion recognition: the Streamlit entry point (`streamlit run app.py`)."""

import logging
from pathlib import Path

import streamlit as st

# fer_core's log lines (model loads, errors in the live callback) go to the server's stderr.
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("fer_core").setLevel(logging.INFO)

# The tab icon is a file served by the app itself: for a ":material/...:" or emoji icon the browser fetches
# an image from fonts.gstatic.com. The pages' ":material/...:" icons in the menu come from the font Streamlit ships.
ICON = Path(__file__).resolve().parent / "static" / "icon.png"
st.set_page_config(page_title="Facial emotion recognition", page_icon=str(ICON), layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/photo.py", title="Photo", icon=":material/photo_camera:"),
        st.Page("pages/live.py", title="Live", icon=":material/videocam:"),
        st.Page("pages/video.py", title="Video", icon=":material/movie:"),
        st.Page("pages/dashboard.py", title="Training dashboard", icon=":material/monitoring:"),
    ]
)
navigation.run()
