"""Scale out: two replicas of the app behind nginx, started as docs/deployment.md's "Scale out" says.

`python deploy/run_replicas.py --replicas 2 --first-port 0 --listen 127.0.0.1:<port> --run-dir <tmp>`
starts two `streamlit run app.py` processes on free loopback ports and nginx (Debian's, in the
foreground, everything in the run folder). Headless Chromium visitors then upload a photo through
nginx, each in its own browser context (its own cookies, so its own Streamlit session). The test
shows that the sessions were spread over both replicas, that every request of a session went to
the same replica (sticky: the upload reaches the replica that holds the session), and that each
replica loaded the model once; another test streams the live page through the proxy. Skipped
without nginx (`apt-get install nginx`), Chromium or playwright. About 1-2 minutes on 2 busy cores.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import cv2
import pytest

from tests.app_server import CHROMIUM, PAGE_TIMEOUT_MS, ROOT, free_port, open_page_from_sidebar

sys.path.insert(0, str(ROOT / "deploy"))
import run_replicas  # noqa: E402  (deploy/ is a folder of scripts, not a package)

NGINX = Path(run_replicas.NGINX)
needs_nginx = pytest.mark.skipif(not NGINX.exists(), reason=f"{NGINX} not found (Debian package nginx)")
SESSIONS_AT_ONCE = 3
MAX_SESSIONS = 12  # placement is random per browser: 12 sessions all on one replica has odds of 1 in 2,000
LOG_LINE = re.compile(
    r'"(?P<method>\w+) (?P<path>\S+) [^"]*" (?P<status>\d+) \d+ key=(?P<key>\S+) upstream=(?P<up>\S+)'
)


def test_the_config_matches_the_apps_upload_cap_and_passes_websockets(tmp_path):
    config = run_replicas.render_config(["127.0.0.1:8611", "127.0.0.1:8612"], "127.0.0.1:8080", tmp_path)
    cap = run_replicas.upload_cap_mb()
    assert cap == 25  # .streamlit/config.toml's server.maxUploadSize
    assert f"client_max_body_size {cap + run_replicas.MULTIPART_ROOM_MB}m;" in config
    stream = config.split("location /_stcore/stream {")[1].split("}")[0]
    assert "proxy_set_header Upgrade $http_upgrade;" in stream and "proxy_set_header Connection" in stream
    assert "hash $sticky_key consistent;" in config and "location = /_stcore/health" in config
    assert "{{" not in config and str(tmp_path) in config


@needs_nginx
def test_nginx_accepts_the_rendered_config(tmp_path):
    (tmp_path / "nginx.conf").write_text(run_replicas.render_config(["127.0.0.1:1"], "127.0.0.1:1", tmp_path))
    check = [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    result = subprocess.run([*check, "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def replicas(tmp_path):
    """docs/deployment.md's command: (URL of nginx, run folder). Stopped with SIGTERM, as a service manager would."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (Debian package chromium)")
    pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
    port = free_port()
    run_dir = tmp_path / "run"
    command = [sys.executable, "deploy/run_replicas.py", "--replicas", "2", "--first-port", "0"]
    command += ["--listen", f"127.0.0.1:{port}", "--run-dir", str(run_dir)]
    log = tmp_path / "launcher.log"
    with log.open("w") as out:
        launcher = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while "serving http://" not in log.read_text():
            assert launcher.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"not serving after 240 s: {log.read_text()}"
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", run_dir
    finally:
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    # The launcher stopped what it started: nothing answers on the port any more.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)


async def _session(browser, url: str, photo: Path) -> str:
    """One visitor uploads the photo on the photo page through nginx; returns its sticky cookie."""
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        await page.goto(f"{url}/photo")
        await page.set_input_files("input[type=file]", str(photo))  # waits for the page's uploader
        await page.get_by_text("1 face found.").wait_for()
        await page.get_by_text(re.compile(r"^Face #?1: happy \(\d+%\)$")).first.wait_for()
        cookies = {cookie["name"]: cookie["value"] for cookie in await context.cookies()}
        return cookies["fer_replica"]
    except Exception as error:
        shown = (await page.inner_text("body"))[-300:] if not page.is_closed() else "(closed)"
        raise AssertionError(f"{str(error).splitlines()[0]}; the page showed: {shown!r}") from error
    finally:
        await context.close()


async def _visit_until_both_replicas_serve(url: str, photo: Path, run_dir: Path) -> list[str]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            keys: list[str] = []
            while len(keys) < MAX_SESSIONS:
                keys += await asyncio.gather(*(_session(browser, url, photo) for _ in range(SESSIONS_AT_ONCE)))
                if len(set().union(*(_replica_of(run_dir, key) for key in keys))) == 2:
                    break
            return keys
        finally:
            await browser.close()


def _requests(run_dir: Path) -> dict[str, list[dict[str, str]]]:
    """Every request nginx logged (method, path, status, upstream), by sticky key (one key per browser)."""
    requests: dict[str, list[dict[str, str]]] = defaultdict(list)
    for line in (run_dir / "nginx-access.log").read_text().splitlines():
        if match := LOG_LINE.search(line):
            requests[match["key"]].append(match.groupdict())
    return requests


def _replica_of(run_dir: Path, key: str) -> set[str]:
    return {request["up"] for request in _requests(run_dir)[key]}


@needs_nginx
def test_two_replicas_behind_nginx_share_the_sessions(replicas, tmp_path, astronaut_bgr):
    url, run_dir = replicas
    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), astronaut_bgr)

    keys = asyncio.run(_visit_until_both_replicas_serve(url, photo, run_dir))

    # nginx logs a WebSocket when it closes: give it a moment after the browsers left.
    deadline = time.monotonic() + 15
    while not all(any(r["path"] == "/_stcore/stream" for r in _requests(run_dir)[key]) for key in keys):
        assert time.monotonic() < deadline, "a session's WebSocket was not logged"
        time.sleep(0.5)
    requests = _requests(run_dir)
    placed = {key: {request["up"] for request in requests[key]} for key in keys}
    served = sorted(set().union(*placed.values()))
    print(f"\n{len(keys)} sessions: " + ", ".join(f"{up}: {sum(p == {up} for p in placed.values())}" for up in served))
    assert all(len(upstreams) == 1 for upstreams in placed.values()), placed  # sticky: one replica per browser
    assert len(served) == 2, placed  # both replicas served sessions
    for key in keys:
        session = requests[key]
        assert any(r["path"] == "/_stcore/stream" and r["status"] == "101" for r in session)  # WebSocket upgraded
        assert any(
            r["method"] == "PUT" and "/_stcore/upload_file/" in r["path"] and r["status"] in ("200", "204")
            for r in session
        )  # the photo reached the replica that holds the session
    for index in range(2):
        replica_log = (run_dir / f"replica-{index}.log").read_text()
        assert replica_log.count("loaded model") == 1, replica_log  # one model per process
        assert "Traceback" not in replica_log


@needs_nginx
def test_the_live_page_streams_through_the_proxy(replicas, tmp_path, astronaut_bgr):
    """The live page's WebRTC signalling goes over the session's WebSocket through nginx to the replica
    holding the session; the video flows between Chromium's fake camera and that replica directly
    (on loopback no TURN server is needed), and comes back annotated."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from tests.test_live_browser import metric, write_camera

    def analysed(page) -> int:
        try:
            return int(metric(page, "Frames analysed") or 0)
        except PlaywrightTimeout:  # the readout appears once the stream runs
            return 0

    url, run_dir = replicas
    camera = tmp_path / "camera.y4m"
    write_camera(camera, astronaut_bgr)
    args = ["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=[*args, f"--use-file-for-fake-video-capture={camera}"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(url)
            open_page_from_sidebar(page, "Live", "live")
            webrtc = page.frame_locator('iframe[title*="webrtc_streamer"]')
            webrtc.get_by_role("button", name=re.compile("^start$", re.I)).click()
            deadline = time.monotonic() + 120
            while analysed(page) < 5:
                if time.monotonic() > deadline:
                    page.screenshot(path=str(tmp_path / "live.png"), full_page=True)
                    raise AssertionError(f"no frames analysed through the proxy after 120 s: {tmp_path / 'live.png'}")
                page.wait_for_timeout(500)
            assert webrtc.locator("video").first.evaluate("v => v.videoWidth") > 0  # annotated video back
            main_face = metric(page, "Main face")
            key = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}["fer_replica"]
        finally:
            browser.close()
    assert main_face.split()[0] == "happy", main_face
    assert len(_replica_of(run_dir, key)) == 1  # page, scripts and signalling on one replica
