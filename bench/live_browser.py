"""The live page in real headless Chromium with a fake 30 fps camera: frame rate, annotation, staying up.

    python bench/live_browser.py                      # one browser, 20 s measured
    python bench/live_browser.py --browsers 3         # three browsers streaming at once
    python bench/live_browser.py --cycles 15          # 15 START/STOP cycles, each must bring video back
    python bench/live_browser.py --minutes 10         # a long stream: server memory, threads, open files
    python bench/live_browser.py --screenshot docs/live_page.png

The camera is a .y4m written here: 640x480 at 30 fps, a grey copy of the astronaut's head sliding
across a grey wall, so that every coloured pixel in the returned video is the app's annotation.
Measured in the browser, on the returned <video>: frames presented per second (requestVideoFrameCallback),
and the share of sampled frames (every 5th) that carry a box (over 150 strongly coloured pixels);
on the page: analyses per second (the 'Frames analysed' figure). The server is `streamlit run app.py`
on a free port; its resident memory, threads and open files are read from /proc.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load import LoadMeter  # noqa: E402  (bench/load.py: this script's folder is first on sys.path)

from tests.app_server import CHROMIUM, FAKE_CAMERA_ARGS, open_page_from_sidebar, serve_app  # noqa: E402

WIDTH, HEIGHT, FPS = 640, 480, 30

# Counts frames presented for `ms` milliseconds; every 5th is drawn to a canvas and its coloured pixels counted.
MEASURE_JS = """
async ([v, ms]) => {
  const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d', {willReadFrequently: true});
  let frames = 0, sampled = 0, annotated = 0, first = null, last = null;
  return await new Promise(resolve => {
    const t0 = performance.now();
    function cb(now, meta) {
      if (first === null) first = meta.presentedFrames;
      last = meta.presentedFrames; frames++;
      if (frames % 5 === 0) {
        g.drawImage(v, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data; let coloured = 0;
        for (let i = 0; i < d.length; i += 8) {
          const mx = Math.max(d[i], d[i+1], d[i+2]), mn = Math.min(d[i], d[i+1], d[i+2]);
          if (mx - mn > 60) coloured++;
        }
        sampled++; if (coloured > 150) annotated++;
      }
      if (now - t0 < ms) v.requestVideoFrameCallback(cb);
      else resolve({frames, presented: last - first, seconds: (now - t0) / 1000, sampled, annotated});
    }
    v.requestVideoFrameCallback(cb);
  });
}
"""


def write_camera(path: Path, seconds: float = 4) -> None:
    from skimage import data

    head = cv2.cvtColor(cv2.cvtColor(data.astronaut()[0:300, 100:350], cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2BGR)
    count = int(seconds * FPS)
    with path.open("wb") as file:
        file.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(count):
            x = int(40 + 300 * (1 - abs(1 - 2 * i / count)))
            frame = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
            frame[90:390, x : x + 250] = head
            file.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())


def server_state(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    return {"rss_mb": rss, "threads": threads, "open_files": len(os.listdir(f"/proc/{pid}/fd"))}


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the server and by every Chromium process (the only browsers running)."""
    used = {"server": 0.0, "chromium": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if int(entry) == server_pid:
            used["server"] += seconds
        elif name.startswith(("chrom", "headless_shell")):
            used["chromium"] += seconds
    return used


def metric(page, label: str) -> str:
    card = page.get_by_test_id("stMetric").filter(has_text=label)
    return card.get_by_test_id("stMetricValue").inner_text(timeout=10_000).strip()


def open_live(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1200})
    page.set_default_timeout(120_000)
    page.goto(url)
    open_page_from_sidebar(page, "Live", "live")
    return page


def start(page) -> None:
    webrtc = page.frame_locator('iframe[title*="webrtc_streamer"]')
    webrtc.get_by_role("button", name=re.compile("^start$", re.I)).click()
    video = webrtc.locator("video").first
    deadline = time.monotonic() + 120
    while video.evaluate("v => v.videoWidth * (v.currentTime > 0.5)") == 0:
        if time.monotonic() > deadline:
            raise RuntimeError("no video came back within 120 s of START")
        page.wait_for_timeout(250)


def stop(page) -> None:
    webrtc = page.frame_locator('iframe[title*="webrtc_streamer"]')
    webrtc.get_by_role("button", name=re.compile("^stop$", re.I)).click()
    page.get_by_text("Stream ended").wait_for(timeout=60_000)


def video(page):
    return page.frame_locator('iframe[title*="webrtc_streamer"]').locator("video").first


def begin(page, seconds: float) -> tuple[int, float]:
    """Start measuring in the page (it runs on in the browser); the analyses counted so far, and when."""
    analysed = int(metric(page, "Frames analysed") or 0)
    video(page).evaluate(f"v => {{ window.__measure = ({MEASURE_JS})([v, {int(seconds * 1000)}]); }}")
    return analysed, time.monotonic()


def collect(page, begun: tuple[int, float]) -> dict[str, float]:
    result = video(page).evaluate("v => window.__measure")  # Playwright waits for the promise
    analysed = int(metric(page, "Frames analysed") or 0)
    return {
        "fps": result["presented"] / result["seconds"],
        "annotated": result["annotated"] / max(1, result["sampled"]),
        "sampled": result["sampled"],
        "analyses_per_s": (analysed - begun[0]) / (time.monotonic() - begun[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browsers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20, help="measuring window per browser")
    parser.add_argument("--cycles", type=int, default=0, help="START/STOP cycles before measuring")
    parser.add_argument("--minutes", type=float, default=0, help="stream this long, sampling the server every 30 s")
    parser.add_argument("--screenshot", type=Path, help="save the first browser's page here while it streams")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    load = LoadMeter()
    work = Path(tempfile.mkdtemp(prefix="live_browser_"))
    camera = work / "camera.y4m"
    write_camera(camera)
    with serve_app(work / "streamlit.log") as (url, server), sync_playwright() as playwright:
        browsers = [
            playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=[*FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={camera}"],
            )
            for _ in range(args.browsers)
        ]
        try:
            pages = [open_live(browser, url + "/") for browser in browsers]
            for cycle in range(args.cycles):
                started = time.monotonic()
                start(pages[0])
                back = time.monotonic() - started
                stop(pages[0])
                print(f"cycle {cycle + 1}: video back {back:.1f} s after START; STOP ended the stream")
            for page in pages:
                start(page)
            pages[0].wait_for_timeout(5_000)  # let the streams settle
            if args.minutes:
                end = time.monotonic() + 60 * args.minutes
                while True:
                    state = server_state(server.pid)
                    print(
                        f"{(time.monotonic() - end) / 60 + args.minutes:5.1f} min: server {state['rss_mb']:.0f} MB, "
                        f"{state['threads']} threads, {state['open_files']} open files; "
                        f"page: {metric(pages[0], 'Frames per second')} fps",
                        flush=True,
                    )
                    if time.monotonic() >= end:
                        break
                    pages[0].wait_for_timeout(30_000)
            cpu_before, measure_started = cpu_seconds(server.pid), time.monotonic()
            begun = [begin(page, args.seconds) for page in pages]  # all browsers measured at once
            results = [collect(page, b) for page, b in zip(pages, begun)]
            cpu_after, measured = cpu_seconds(server.pid), time.monotonic() - measure_started
            if args.screenshot:
                pages[0].screenshot(path=str(args.screenshot), full_page=True)
            state = server_state(server.pid)
        finally:
            for browser in browsers:
                browser.close()
        log = (work / "streamlit.log").read_text()

    print(f"{args.browsers} browser(s), fake camera {WIDTH}x{HEIGHT} at {FPS} fps, {args.seconds:.0f} s measured")
    print("| browser | frames/s returned | sampled frames with a box | analyses/s |")
    print("|---:|---:|---:|---:|")
    for i, r in enumerate(results, start=1):
        print(f"| {i} | {r['fps']:.1f} | {r['annotated']:.0%} of {r['sampled']} | {r['analyses_per_s']:.1f} |")
    cores = {name: (cpu_after[name] - cpu_before[name]) / measured for name in cpu_after}
    print(f"CPU while measured: server {cores['server']:.2f} cores, Chromium {cores['chromium']:.2f} cores")
    print(f"server at the end: {state['rss_mb']:.0f} MB, {state['threads']} threads, {state['open_files']} open files")
    print(f"tracebacks in the server log: {log.count('Traceback')}")
    print(f"load: {load.describe()}")


if __name__ == "__main__":
    main()
