"""Screenshots of every page at desktop (1280 px) and phone (390 px) width, in headless Chromium.

`python docs/screenshots.py` starts the app on a free loopback port, opens each page with a result on
it (docs/astronaut.jpg uploaded to the photo page, a fake camera showing it on the live page, a
3-second clip of it analysed on the video page), and writes <page>_<width>.png into --out. With
--docs it also writes the README's photo-page screenshots (docs/photo_page.jpg, docs/photo_page_phone.jpg).
`--photo` shows another photo (on the photo and live pages), `--pages` shoots only some pages.
Needs Chromium (/usr/bin/chromium) and the dev requirements (playwright; the clip comes from tests/).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PAGES = ("home", "photo", "live", "video", "dashboard")
WIDTHS = {1280: 900, 390: 844}  # width: window height (a phone's 390 x 844)


def fake_camera(photo: Path, path: Path) -> None:
    """A .y4m file Chromium plays as its camera: the photo centred on a grey 640x480 frame."""
    image = cv2.imread(str(photo))
    frame = cv2.copyMakeBorder(cv2.resize(image, (400, 400)), 40, 40, 120, 120, cv2.BORDER_CONSTANT, value=(120,) * 3)
    with path.open("wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for _ in range(15):
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())


def show_result(page, name: str, photo: Path, clip: Path) -> None:
    if name == "photo":
        page.locator("input[type=file]").set_input_files(str(photo))
        page.get_by_text("found.").first.wait_for()
    elif name == "live":
        page.frame_locator('iframe[title*="webrtc_streamer"]').get_by_role("button", name="START").click()
        page.get_by_text("frames returned").wait_for()
        time.sleep(10)  # a few seconds of the chart
    elif name == "video":
        page.locator("input[type=file]").set_input_files(str(clip))
        page.get_by_role("button", name="Analyse the video").click()
        page.get_by_text("Download results (CSV)").wait_for(timeout=300_000)
    time.sleep(3)  # charts finish drawing


def shoot(page, path: Path, width: int) -> None:
    """The whole page: Streamlit scrolls inside its main element, so the window grows to its height."""
    tall = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": width, "height": max(tall, WIDTHS[width])})
    time.sleep(2)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "screenshots")
    parser.add_argument("--docs", action="store_true", help="also write the README's photo-page screenshots")
    parser.add_argument("--photo", type=Path, default=ROOT / "docs" / "astronaut.jpg", help="the photo shown")
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES), help="only these pages")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    from tests.video_clips import face_clip

    scratch = Path(tempfile.mkdtemp())
    photo = args.photo
    fake_camera(photo, scratch / "camera.y4m")
    face_clip(scratch / "clip.mp4", seconds=3.0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(1)
        flags = ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        flags.append(f"--use-file-for-fake-video-capture={scratch / 'camera.y4m'}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=flags)
            for width, height in WIDTHS.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                page.set_default_timeout(90_000)
                for name in args.pages:
                    page.goto(f"{base}/{'' if name == 'home' else name}")
                    page.get_by_role("heading").first.wait_for()
                    time.sleep(2)
                    show_result(page, name, photo, scratch / "clip.mp4")
                    shoot(page, args.out / f"{name}_{width}.png", width)
                    print(args.out / f"{name}_{width}.png", flush=True)
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.docs:  # JPEG keeps the emotion colours exact at a fifth of the PNG's size
        from PIL import Image

        for width, name in ((1280, "photo_page.jpg"), (390, "photo_page_phone.jpg")):
            Image.open(args.out / f"photo_{width}.png").convert("RGB").save(ROOT / "docs" / name, quality=90)


if __name__ == "__main__":
    main()
