"""Nothing leaves the machine: the app, started as the README starts it, asks no host but its own.

The browser side opens every page listed in the app's menu in headless Chromium and records every request
the pages make; the server side runs under an audit hook that records every name lookup and connection
the server process makes. Needs Debian's /usr/bin/chromium and the playwright package; skipped otherwise.
"""

import re
from urllib.parse import urlsplit

import pytest

from tests.app_server import CHROMIUM, FAKE_CAMERA_ARGS, PAGE_TIMEOUT_MS, serve_app
from tests.test_streamlit_config import effective_option

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (Debian package chromium)")
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

OUTWARD = "[outward] "
# Run in the server process before Streamlit starts: every name looked up and every address connected or
# sent to that is not this machine's loopback goes to the log behind OUTWARD.
WATCH_SOCKETS = f"""
import sys

def _outward(event, args):
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event in ("socket.connect", "socket.sendto") and isinstance(args[1], tuple):
        host = args[1][0]
    elif event == "socket.gethostbyname":
        host = args[0]
    else:
        return
    host = host.decode() if isinstance(host, bytes) else str(host)
    if host not in ("None", "", "localhost", "0.0.0.0", "::", "::1") and not host.startswith("127."):
        sys.stderr.write({OUTWARD!r} + event + " " + host + "\\n")
        sys.stderr.flush()

sys.addaudithook(_outward)
"""
# Opened at /photo, Streamlit's own page script cannot tell whether the app is served at / or under /photo/,
# so it asks both /photo/_stcore/health and /_stcore/health (and host-config) and keeps the one that answers:
# the other one's 404 is Streamlit's, not a missing file of the app.
BASE_PATH_PROBE = re.compile(r"^/[^/]+/_stcore/(health|host-config)$")


def test_the_app_is_told_its_address_so_it_looks_up_no_external_ip():
    # Without browser.serverAddress, a headless `streamlit run` asks checkip.amazonaws.com at start-up.
    setting, _ = effective_option("serverAddress")
    assert setting == 'serverAddress = "localhost"'


def test_every_page_asks_nothing_of_any_other_host(tmp_path):
    log = tmp_path / "streamlit.log"
    requests, missing = [], []
    with (
        serve_app(log, address=None, prelude=WATCH_SOCKETS) as (url, _),
        sync_api.sync_playwright() as playwright,
    ):
        own_host = urlsplit(url).netloc
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FAKE_CAMERA_ARGS)
        try:
            context = browser.new_context()
            context.on("request", lambda request: requests.append(request.url))
            context.on("response", lambda response: response.status >= 400 and missing.append(response.url))
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(url + "/")
            nav = page.get_by_test_id("stSidebarNav")
            nav.get_by_role("link", name="Training dashboard").wait_for()
            pages = [link.get_attribute("href") for link in nav.get_by_role("link").all()]
            icons = {}
            for address in pages:
                page.goto(address)
                page.get_by_role("heading", level=1).first.wait_for()
                page.get_by_test_id("stStatusWidget").wait_for(state="hidden")
                page.wait_for_load_state("networkidle")
                icons[address] = page.evaluate("document.querySelector(\"link[rel='shortcut icon']\").href")
        finally:
            browser.close()
        server_log = log.read_text()

    assert len(pages) == 5, pages
    elsewhere = sorted(
        {u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).netloc != own_host}
    )
    assert not elsewhere, f"the pages asked other hosts: {elsewhere}"
    assert all(urlsplit(icon).netloc == own_host for icon in icons.values()), icons
    assert not [u for u in missing if not BASE_PATH_PROBE.match(urlsplit(u).path)], missing
    outward = [line for line in server_log.splitlines() if line.startswith(OUTWARD)]
    assert not outward, f"the server reached outside the machine: {sorted(set(outward))}"
    assert "external IP" not in server_log
