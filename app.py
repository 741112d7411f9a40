"""Facial emotion recognition: the Streamlit entry point (`streamlit run app.py`)."""

import logging

import streamlit as st

# fer_core's log lines (model loads, errors in the live callback) go to the server's stderr.
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("fer_core").setLevel(logging.INFO)

st.set_page_config(page_title="Facial emotion recognition", page_icon=":material/mood:", layout="wide")

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
