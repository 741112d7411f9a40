"""Sizing replicas: `python bench/bench_replicas.py` prints memory and photo throughput for 1 and 2 replicas.

1. Server work: what the photo page does per upload (fer_core.media.photos.analyse_photo: decode, detect
   and classify, draw the boxes, encode the download; and the chart of each face) on
   docs/astronaut.jpg, in 1 and then 2 processes at once, each process like one replica; rounds
   alternate (1, 2, 1, 2, ...) so that the load of other users of the machine falls on both alike.
   Analyses per second in all, and per core.
2. Through nginx: deploy/run_replicas.py with 1 and then 2 replicas; headless Chromium visitors
   (--at-once at a time, each its own session) open the photo page and upload the photo until
   --sessions are done. Sessions per second; Chromium runs on the same cores, so this is a floor.
3. Resident memory of each replica (VmRSS now, VmHWM peak) after serving those sessions, and nginx's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load import LoadMeter  # bench/load.py: this script's folder is first on sys.path

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "docs" / "astronaut.jpg"
CHROMIUM = "/usr/bin/chromium"
# One process doing the photo page's work in a loop for SECONDS after a common start time.
WORKER = """
import sys, time
import fer_core
from fer_core.reporting.charts import probability_bars
from fer_core.media.photos import analyse_photo
from fer_core.pipeline import EmotionPipeline
data = open(sys.argv[1], "rb").read()
pipeline = EmotionPipeline.load()
def once():
    photo = analyse_photo(pipeline, data, "astronaut.jpg")
    [probability_bars(face.probs, title=face.label).to_json() for face in photo.result.faces]
    return len(photo.result.faces)
assert once() == 1
start, seconds = float(sys.argv[2]), float(sys.argv[3])
late = time.time() - start
time.sleep(max(0.0, -late))
count, end = 0, start + seconds
while time.time() < end:
    once(); count += 1
print(count / seconds, late)
"""


def server_work(processes: int, seconds: float) -> float:
    """Photo analyses per second of `processes` processes working at once."""
    start = time.time() + 25  # time for every process to import TensorFlow and load the model
    command = [sys.executable, "-c", WORKER, str(PHOTO), str(start), str(seconds)]
    runs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    results = [run.communicate()[0].split() for run in runs]
    if any(float(late) > 0 for _, late in results):
        raise SystemExit("a worker was not ready at the common start: the machine is too busy for this run")
    return sum(float(rate) for rate, _ in results)


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


async def _session(browser, url: str) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(240_000)
    try:
        await page.goto(f"{url}/photo")
        await page.set_input_files("input[type=file]", str(PHOTO))
        await page.get_by_text(re.compile(r"^Face #?1: \w+ \(\d+%\)$")).first.wait_for()
    finally:
        await context.close()


async def _visitors(url: str, sessions: int, at_once: int) -> float:
    """Sessions per second: `sessions` visitors, `at_once` at a time, each opening the page and uploading."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        queue = asyncio.Queue()
        for _ in range(sessions):
            queue.put_nowait(None)

        async def visitor() -> None:
            while not queue.empty():
                queue.get_nowait()
                await _session(browser, url)

        started = time.monotonic()
        await asyncio.gather(*(visitor() for _ in range(at_once)))
        seconds = time.monotonic() - started
        await browser.close()
    return sessions / seconds


def through_nginx(replicas: int, sessions: int, at_once: int, port: int) -> dict:
    """Start deploy/run_replicas.py, warm every replica, then time the visitors; memory afterwards."""
    run_dir = Path(tempfile.mkdtemp(prefix="bench_replicas_"))
    command = [sys.executable, "deploy/run_replicas.py", "--replicas", str(replicas), "--first-port", "0"]
    command += ["--listen", f"127.0.0.1:{port}", "--run-dir", str(run_dir)]
    log = run_dir / "launcher.log"
    with log.open("w") as out:
        launcher = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        while "serving http://" not in log.read_text():
            if launcher.poll() is not None:
                raise SystemExit(log.read_text())
            time.sleep(0.5)
        url = f"http://127.0.0.1:{port}"
        children = _children(launcher.pid)
        apps = [pid for pid in children if b"streamlit" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        nginx = [pid for pid in children if pid not in apps]
        idle_mb = [_status_kb(pid, "VmRSS") / 1024 for pid in apps]
        # Warm-up: visitors until every replica has loaded the model (placement is random per browser).
        while sum((run_dir / f"replica-{i}.log").read_text().count("loaded model") for i in range(replicas)) < replicas:
            asyncio.run(_visitors(url, at_once, at_once))
        rate = asyncio.run(_visitors(url, sessions, at_once))
        nginx_kb = sum(_status_kb(pid, "VmRSS") for pid in nginx + [c for p in nginx for c in _children(p)])
        return {
            "sessions_per_second": rate,
            "idle_mb": idle_mb,
            "rss_mb": [_status_kb(pid, "VmRSS") / 1024 for pid in apps],
            "peak_mb": [_status_kb(pid, "VmHWM") / 1024 for pid in apps],
            "nginx_mb": nginx_kb / 1024,
        }
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each server-work round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (1 process, 2 processes)")
    parser.add_argument("--sessions", type=int, default=12, help="visitors through nginx, per replica count")
    parser.add_argument("--at-once", type=int, default=4, help="visitors at a time")
    parser.add_argument("--port", type=int, default=8619, help="nginx's port")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from fer_core.model.classifier import import_tensorflow
    from fer_core.reporting.cards import hardware_description

    import_tensorflow()  # quietly: hardware_description asks TensorFlow for GPUs
    cores = os.cpu_count()
    meter = LoadMeter()
    print(f"Machine: {hardware_description()}")
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.rounds):
        for processes in (1, 2):
            rates[processes].append(server_work(processes, args.seconds))
            print(f"  server work, {processes} process(es): {rates[processes][-1]:.2f} analyses/s", flush=True)
    deployments = {replicas: through_nginx(replicas, args.sessions, args.at_once, args.port) for replicas in (1, 2)}

    best = {n: max(values) for n, values in rates.items()}
    print("\n| measure | 1 replica | 2 replicas |\n|---|---:|---:|")
    print(
        f"| photo analyses/s, server work (best of {args.rounds} rounds of {args.seconds:.0f} s) "
        f"| {best[1]:.2f} | {best[2]:.2f} |"
    )
    print(f"| photo analyses/s per core ({cores} cores) | {best[1] / cores:.2f} | {best[2] / cores:.2f} |")
    print(
        f"| all rounds (analyses/s) | {', '.join(f'{r:.2f}' for r in rates[1])} "
        f"| {', '.join(f'{r:.2f}' for r in rates[2])} |"
    )
    one, two = deployments[1], deployments[2]
    print(
        f"| sessions/s through nginx, Chromium on the same cores ({args.sessions} visitors, {args.at_once} at once) "
        f"| {one['sessions_per_second']:.2f} | {two['sessions_per_second']:.2f} |"
    )
    print(
        f"| replica RSS at start (MB) | {', '.join(f'{m:.0f}' for m in one['idle_mb'])} "
        f"| {', '.join(f'{m:.0f}' for m in two['idle_mb'])} |"
    )
    print(
        f"| replica RSS after the visitors (MB) | {', '.join(f'{m:.0f}' for m in one['rss_mb'])} "
        f"| {', '.join(f'{m:.0f}' for m in two['rss_mb'])} |"
    )
    print(
        f"| replica peak RSS (MB) | {', '.join(f'{m:.0f}' for m in one['peak_mb'])} "
        f"| {', '.join(f'{m:.0f}' for m in two['peak_mb'])} |"
    )
    print(f"| nginx RSS (MB) | {one['nginx_mb']:.0f} | {two['nginx_mb']:.0f} |")
    print(f"Load: {meter.describe()}")


if __name__ == "__main__":
    main()
