"""Process-wide objects for the Streamlit pages: one model per process, shared by every session."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import streamlit as st

from fer_core.model.classifier import DEFAULT_MODEL, LIVE_MODEL, fast_model  # noqa: F401  LIVE_MODEL: pages and benches import it from here
from fer_core.pipeline import EmotionPipeline


def model_path() -> Path:
    """The model the app serves: $FER_MODEL if set, else the shipped one."""
    return Path(os.environ.get("FER_MODEL") or DEFAULT_MODEL)


def live_model_path() -> Path:
    """The model the live page serves: $FER_MODEL if set, else the fast live model when it is
    present (models/fer_live/, a single view, a few ms per face), else the shipped one."""
    return fast_model()


@st.cache_resource(show_spinner="Loading the emotion model ...")
def load_pipeline(path: str) -> EmotionPipeline:
    """Raises ModelError (not cached) when the file is missing or damaged."""
    pipeline = EmotionPipeline.load(path)
    logging.getLogger("fer_core").info("loaded model %s (once per process)", path)
    return pipeline


def pipeline_or_stop(path: Path | None = None) -> EmotionPipeline:
    """The shared pipeline on `path` (default: `model_path()`), or a clear error on the page and a stop."""
    from fer_core.model.classifier import ModelError

    try:
        return load_pipeline(str(path or model_path()))
    except ModelError as error:
        st.error(
            f"The emotion model could not be loaded: {error}\n\n"
            "Fix: restore it with `git checkout -- models/`, train one with `python -m fer_core train`, "
            "or point the `FER_MODEL` environment variable at a model folder or `.keras` file."
        )
        st.stop()


def run_inside_app() -> None:
    """Call first on every page: makes sure the page runs inside app.py's navigation.

    Because the product's layout has a `pages/` folder, a fresh server starts in Streamlit's legacy
    pages-folder mode, and if a page's URL (e.g. /live) is its very first request, Streamlit runs
    that page without app.py: wrong sidebar, no page config. app.py's `st.navigation` call ends the
    mode for the whole process; here the page ends it itself and reruns, so the rerun goes through
    app.py to the page that was asked for.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
