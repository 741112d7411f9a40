"""Run N replicas of the app behind nginx: `python deploy/run_replicas.py --replicas 2 --listen 127.0.0.1:8080`.

Starts N `streamlit run app.py` processes on loopback ports, waits until each answers
/_stcore/health, renders deploy/nginx.conf.template into the run folder and runs nginx in the
foreground with it, until Ctrl-C or SIGTERM stops them all. With --upstream (repeatable) it starts
no replica and puts nginx in front of apps already running on other hosts. --print-config only
prints the rendered configuration. Everything written (nginx.conf, its pid, logs and temp files,
one log per replica) stays in --run-dir.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import tomllib  # as Streamlit reads its config

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MULTIPART_ROOM_MB = 1  # the upload's multipart wrapping, on top of Streamlit's own cap


def upload_cap_mb(config: Path = ROOT / ".streamlit" / "config.toml") -> int:
    """Streamlit's server.maxUploadSize (MB) as the app configures it (Streamlit's default: 200)."""
    settings = tomllib.loads(config.read_text()) if config.is_file() else {}
    return int(settings.get("server", {}).get("maxUploadSize", 200))


def render_config(upstreams: list[str], listen: str, run_dir: Path) -> str:
    """nginx.conf for these replicas ("host:port" each)."""
    servers = "\n".join(f"        server {address} max_fails=1 fail_timeout=10s;" for address in upstreams)
    # Started by root, nginx would hand its workers to another user, who cannot use the run folder.
    user_line = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    cap = upload_cap_mb()
    values = {
        "user_line": user_line,
        "run_dir": str(run_dir.resolve()),
        "servers": servers,
        "listen": listen,
        "upload_mb": str(cap),
        "body_mb": str(cap + MULTIPART_ROOM_MB),
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


def wait_healthy(url: str, processes: list[subprocess.Popen], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not healthy(url):
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"error: {what} exited with status {process.returncode}; see the run folder's logs")
        if time.monotonic() > deadline:
            raise SystemExit(f"error: {what} not healthy at {url} after {timeout:.0f} s")
        time.sleep(0.5)


def start_replica(port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true"]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port)]
    with log.open("w") as out:
        return subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="app processes to start on this host (default: 2)")
    parser.add_argument("--first-port", type=int, default=8611, help="replica i listens on first-port + i (0: any)")
    parser.add_argument(
        "--upstream", action="append", default=[], metavar="HOST:PORT", help="an app already running elsewhere"
    )
    parser.add_argument("--listen", default="127.0.0.1:8080", help="nginx's address (default: 127.0.0.1:8080)")
    parser.add_argument("--run-dir", type=Path, default=ROOT / ".cache" / "replicas", help="config, logs, pid files")
    parser.add_argument("--print-config", action="store_true", help="print nginx.conf and exit")
    args = parser.parse_args(argv)

    run_dir = args.run_dir.resolve()
    count = 0 if args.upstream else args.replicas
    ports = [args.first_port + i if args.first_port else free_port() for i in range(count)]
    upstreams = args.upstream or [f"127.0.0.1:{port}" for port in ports]
    config = render_config(upstreams, args.listen, run_dir)
    if args.print_config:
        print(config)
        return 0
    if not Path(NGINX).exists():
        raise SystemExit("error: nginx not found (Debian: apt-get install nginx)")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "nginx.conf").write_text(config)

    processes: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the finally below on `kill`
    try:
        for index, port in enumerate(ports):
            processes.append(start_replica(port, run_dir / f"replica-{index}.log"))
        for index, port in enumerate(ports):
            wait_healthy(f"http://127.0.0.1:{port}", processes, 180, f"replica {index} (port {port})")
        nginx = [NGINX, "-p", str(run_dir), "-c", str(run_dir / "nginx.conf"), "-e", str(run_dir / "nginx-error.log")]
        processes.append(subprocess.Popen([*nginx, "-g", "daemon off;"], cwd=run_dir))
        wait_healthy(f"http://{args.listen}", processes, 30, "nginx")
        print(f"serving http://{args.listen} -> {', '.join(upstreams)} (logs in {run_dir})", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(1)
        failed = next(process for process in processes if process.poll() is not None)
        print(f"error: {' '.join(failed.args[:4])} ... exited with status {failed.returncode}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)


if __name__ == "__main__":
    sys.exit(main())
