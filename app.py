"""Facial emotion recognition: the Streamlit entry point (`streamlit run app.py`)."""

import logging

import streamlit as st

# fer_core's log lines (model loads, errors in the live callback) go to the server's stderr.
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("fer_core").setLevel(logging.INFO)

st.set_page_config(page_title="Facial emotion recognition", page_icon="🙂", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/photo.py", title="Photo", icon="📷"),
        st.Page("pages/live.py", title="Live", icon="🎥"),
        st.Page("pages/dashboard.py", title="Training dashboard", icon="📈"),
    ]
)
navigation.run()
