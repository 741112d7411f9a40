"""The app on a phone's screen (390 px wide) in headless Chromium: nothing a visitor needs runs off it.

Needs Debian's /usr/bin/chromium and the playwright package; skipped otherwise.
"""

import pytest

from tests.app_server import CHROMIUM, PAGE_TIMEOUT_MS, serve_app

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (Debian package chromium)")
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

# A page link's label is one line that its box cuts off (overflow: hidden) where the screen ends.
CLIPPED = """() => [...document.querySelectorAll('[data-testid=stPageLink] p')]
    .filter(label => label.scrollWidth > label.clientWidth || label.getBoundingClientRect().right > innerWidth)
    .map(label => label.innerText)"""


def test_the_home_pages_links_fit_a_phones_screen(tmp_path):
    with serve_app(tmp_path / "streamlit.log") as (url, _), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(url)
            links = page.get_by_test_id("stPageLink")
            links.last.wait_for()
            count, clipped = links.count(), page.evaluate(CLIPPED)
        finally:
            browser.close()
    assert count >= 4 and clipped == []
