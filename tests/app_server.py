"""Serving the whole app on a free loopback port for the browser tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fer_core.model.classifier import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# Headless Chromium with a fake camera that needs no permission prompt; add
# f"--use-file-for-fake-video-capture={y4m}" to choose what it films.
FAKE_CAMERA_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
)

# `python -m streamlit` with fer_core's INFO log lines (one per model load, from resources.load_pipeline)
# sent to stderr behind a mark of their own, so a test can count how many times the server loaded the
# model (app.py's root handler prints the same lines again, in its own format).
LOG_MARK = "[fer_core log] "
# Playwright's wait for a page of a fresh server (loading it, its first render, the WebRTC start).
# The first render imports TensorFlow, and on a busy 2-core machine even loading the page's
# scripts took over Playwright's default 30 s in a clean-clone run: `page.set_default_timeout(PAGE_TIMEOUT_MS)`.
PAGE_TIMEOUT_MS = 90_000
SERVE = (
    "import logging, sys; from streamlit.web.cli import main; log = logging.getLogger('fer_core'); "
    f"handler = logging.StreamHandler(); handler.setFormatter(logging.Formatter({LOG_MARK!r} + '%(message)s')); "
    "log.setLevel(logging.INFO); log.addHandler(handler); main(prog_name='streamlit')"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_app(
    log: Path, timeout: float = 120, *, address: str | None = "127.0.0.1", prelude: str = ""
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run app.py` until the block ends: (base URL, process). Skips when there is no model.

    `address=None` leaves `--server.address` out, as the README starts the app; `prelude` is Python code
    the server process runs before Streamlit starts.
    """
    model = Path(os.environ.get("FER_MODEL") or DEFAULT_MODEL)
    if not model.exists():
        pytest.skip(f"no model at {model}")
    port = free_port()
    command = [sys.executable, "-c", prelude + "\n" + SERVE, "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port)]
    if address is not None:
        command += ["--server.address", address]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, f"streamlit exited with {process.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"streamlit not healthy in {timeout} s:\n{log.read_text()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.read().decode().strip() == "ok":
                        break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def open_page_from_sidebar(page, title: str, path: str, tries: int = 4) -> None:
    """Click a page's link in the app's sidebar, as a person would, until the address is `/<path>`.

    Streamlit drops a click on a sidebar link when its WebSocket is not connected at that moment (the
    rerun it asks for is never sent). In one clean-clone CI run on a busy machine the address stayed on
    the home page for 90 s after the click: wait until the status widget (running, connecting) is gone
    before each click, and click again when the address does not change.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=title)
    for attempt in range(1, tries + 1):
        link.wait_for()
        page.get_by_test_id("stStatusWidget").wait_for(state="hidden")
        link.click()
        try:
            page.wait_for_url(f"**/{path}", timeout=20_000)
            return
        except PlaywrightTimeout:
            if attempt == tries:
                raise
