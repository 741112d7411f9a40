"""Facial emotion recognition: the Streamlit entry point (`streamlit run app.py`)."""

import streamlit as st

st.set_page_config(page_title="Facial emotion recognition", page_icon="🙂", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/photo.py", title="Photo", icon="📷"),
    ]
)
navigation.run()
