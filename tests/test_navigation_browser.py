"""A page's URL opened as the very first request of a fresh server still gets the app's navigation.

Needs Debian's /usr/bin/chromium and the playwright package; skipped otherwise.
"""

import re

import pytest

from tests.app_server import CHROMIUM, PAGE_TIMEOUT_MS, serve_app

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (Debian package chromium)")
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

APP_PAGES = ["Home", "Photo", "Live", "Video", "Training dashboard"]  # app.py's st.navigation titles


def test_first_request_to_a_page_url_runs_inside_the_app(tmp_path):
    with serve_app(tmp_path / "streamlit.log") as (url, _), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(f"{url}/photo")
            page.get_by_role("heading", name=re.compile("Photo")).wait_for()
            nav = page.get_by_test_id("stSidebarNav")
            nav.get_by_role("link", name="Training dashboard").wait_for(timeout=30_000)
            links = [text.strip().splitlines()[-1] for text in nav.get_by_role("link").all_inner_texts()]
            path = page.evaluate("location.pathname")
        finally:
            browser.close()

    # Each link reads icon, then title. Without app.py, Streamlit's pages-folder mode would list the files
    # instead: app, dashboard, home, live, photo, video.
    assert links == APP_PAGES
    assert path == "/photo"
