"""The Live page end to end: headless Chromium with a fake camera showing the astronaut, WebRTC to the app.

Needs Debian's /usr/bin/chromium and the playwright package (no `playwright install`); skipped otherwise.
Set FER_SCREENSHOT_DIR to keep a screenshot of the page while it streams.
"""

import os
import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core.labels import EMOTIONS
from tests.app_server import CHROMIUM, FAKE_CAMERA_ARGS, PAGE_TIMEOUT_MS, open_page_from_sidebar, serve_app

WIDTH, HEIGHT, FPS = 640, 480, 15
FRAMES_WANTED = 15  # analysed frames counted on the page before the checks

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found (Debian package chromium)")
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


# Counts the frames the returned <video> presents for `ms` milliseconds, and how many of them carry coloured
# pixels: the camera is grey, so colour there is the app's drawing (box and label).
RETURNED_FRAMES_JS = """
async (v, ms) => {
  const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d', {willReadFrequently: true});
  let frames = 0, annotated = 0;
  return await new Promise(resolve => {
    const t0 = performance.now();
    function cb(now) {
      frames++; g.drawImage(v, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data; let coloured = 0;
      for (let i = 0; i < d.length; i += 8) {
        if (Math.max(d[i], d[i+1], d[i+2]) - Math.min(d[i], d[i+1], d[i+2]) > 60) coloured++;
      }
      if (coloured > 150) annotated++;
      if (now - t0 < ms) v.requestVideoFrameCallback(cb); else resolve({frames, annotated});
    }
    v.requestVideoFrameCallback(cb);
  });
}
"""


def write_camera(path: Path, astronaut_bgr: np.ndarray, seconds: float = 4) -> None:
    """A .y4m clip: the astronaut's head, in grey, sliding right and back on a grey background (loops seamlessly)."""
    head = cv2.cvtColor(cv2.cvtColor(astronaut_bgr[0:300, 100:350], cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    count = int(seconds * FPS)
    with path.open("wb") as file:
        file.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(count):
            x = int(40 + 300 * (1 - abs(1 - 2 * i / count)))
            frame = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
            frame[90:390, x : x + 250] = head
            file.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())


@pytest.fixture
def app_server(tmp_path):
    """The app served on a free port: its URL and the server's log."""
    log = tmp_path / "streamlit.log"
    with serve_app(log) as (url, _):
        yield url + "/", log


def metric(page, label: str) -> str:
    card = page.get_by_test_id("stMetric").filter(has_text=label)
    return card.get_by_test_id("stMetricValue").inner_text(timeout=5_000).strip()


def test_live_page_annotates_the_fake_camera(tmp_path, astronaut_bgr, app_server):
    url, log = app_server
    camera = tmp_path / "camera.y4m"
    write_camera(camera, astronaut_bgr)
    args = [*FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={camera}"]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(url)
            # Through the home page, as a person would. (Opening /live as the first visitor of a fresh
            # server runs pages/live.py without app.py: Streamlit's old pages/-directory mode.)
            open_page_from_sidebar(page, "Live", "live")
            webrtc = page.frame_locator('iframe[title*="webrtc_streamer"]')
            webrtc.get_by_role("button", name=re.compile("^start$", re.I)).click()

            deadline = time.monotonic() + 120
            analysed = 0
            while analysed < FRAMES_WANTED:
                if time.monotonic() > deadline:
                    pytest.fail(f"only {analysed} frames analysed after 120 s; server log:\n{log.read_text()}")
                page.wait_for_timeout(500)
                try:
                    analysed = int(metric(page, "Frames analysed") or 0)
                except sync_api.TimeoutError:  # no readout yet: the stream is still connecting (a loaded machine)
                    continue

            main_face = metric(page, "Main face")
            video = webrtc.locator("video").first
            video_width = video.evaluate("v => v.videoWidth")
            returned = video.evaluate(RETURNED_FRAMES_JS, 3_000)
            if os.environ.get("FER_SCREENSHOT_DIR"):
                page.wait_for_timeout(1_000)  # let the readout catch up
                directory = Path(os.environ["FER_SCREENSHOT_DIR"])
                directory.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(directory / "live_page.png"), full_page=True)
        finally:
            browser.close()

    assert video_width > 0, "the annotated video comes back"
    # A grey camera returned as it came would have no coloured frame at all.
    assert returned["frames"] >= 5, f"frames keep coming back: {returned}"
    assert returned["annotated"] >= 0.8 * returned["frames"], f"the face is boxed on the returned frames: {returned}"
    label = main_face.split()[0]
    assert label in EMOTIONS, f"a face is found and labelled, got {main_face!r}"
    if not os.environ.get("FER_MODEL"):  # a stand-in model (smoke runs) gives near-random labels
        assert label == "happy", f"the smiling astronaut reads as happy, got {main_face!r}"
    assert "Traceback" not in log.read_text()
