"""Speed and memory of video-file analysis: x real time and peak RSS for 640x480 and 1080p clips.

    python bench/bench_video.py [--seconds 60] [--sizes 640x480 1920x1080] [--analyses-per-second 6]

Makes each clip first (tests/video_clips.py: the astronaut's face moving across a grey ramp,
30 fps, H.264, with an AAC tone), then analyses it with `fer_core.media.video.analyze_video` and the
default settings and the video model (`fast_model()`: models/fer_live when shipped, as the page and
the command line use) in a fresh process of its own, so that each peak RSS (TensorFlow included) is that
clip's alone, and samples the resident memory as it goes (flat, or growing with the clip's length?).
Prints a Markdown table. $FER_MODEL overrides the model.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_one(clip: Path, rate: float) -> dict:
    """Analyse one clip in this process; the figures as a dict."""
    from fer_core.media.video import VideoSettings, analyze_video
    from fer_core.model.classifier import fast_model
    from fer_core.pipeline import EmotionPipeline

    pipeline = EmotionPipeline.load(fast_model())
    pipeline.classify_boxes(np.zeros((64, 64, 3), np.uint8), [(0, 0, 64, 64)])  # trace the graph first
    samples: list[tuple[int, float]] = []  # (frames done, resident MB) about once a second

    def sample(progress) -> None:
        samples.append((progress.frames_done, _resident_mb()))

    cpu_start = time.process_time()
    with tempfile.TemporaryDirectory() as folder:
        settings = VideoSettings(analyses_per_second=rate)
        analysis = analyze_video(
            pipeline, clip, Path(folder) / "out.mp4", settings, on_progress=sample, progress_every_s=1
        )
        out_mb = (Path(folder) / "out.mp4").stat().st_size / 2**20
    return {
        "frames": analysis.frames,
        "video_s": analysis.frames / analysis.info.fps,
        "processing_s": analysis.processing_s,
        "speed": analysis.speed,
        "cpu_s": time.process_time() - cpu_start,
        "analyzed": len(analysis.analyzed_frames),
        "faces": len(analysis.face_ids()),
        "out_mb": out_mb,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # resident memory a quarter, half, three quarters of the way and at the end: flat, or growing?
        "rss_quarters": [next(mb for done, mb in samples if done >= q * analysis.frames / 4) for q in (1, 2, 3, 4)],
    }


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sizes", nargs="+", default=["640x480", "1920x1080"])
    parser.add_argument("--analyses-per-second", type=float, default=6.0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="play each clip this many times over (a long clip, made fast)"
    )
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # the child process: analyse this clip
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.run, args.analyses_per_second)))
        return

    from load import LoadMeter  # bench/load.py: this script's folder is first on sys.path

    from fer_core.reporting.cards import hardware_description
    from tests.video_clips import face_clip, repeat_clip

    meter = LoadMeter()
    print(f"Machine: {hardware_description()}\n")
    print(
        "| clip | frames | video (s) | processing (s) | x real time | CPU (s) | analysed | faces | MP4 (MB) "
        "| peak RSS (MB) | RSS at 1/4, 1/2, 3/4, end (MB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            clip = Path(folder) / f"{size}.mp4"
            face_clip(clip, width, height, fps=30, seconds=args.seconds, audio=True)
            if args.repeat > 1:
                long_clip = Path(folder) / f"{size}_x{args.repeat}.mp4"
                repeat_clip(clip, long_clip, args.repeat)
                clip = long_clip
            command = [
                sys.executable,
                __file__,
                "--run",
                str(clip),
                "--analyses-per-second",
                str(args.analyses_per_second),
            ]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            print(
                f"| {size}, 30 fps, {args.seconds * args.repeat:g} s, {clip.stat().st_size / 2**20:.1f} MB "
                f"| {result['frames']} "
                f"| {result['video_s']:.1f} | {result['processing_s']:.1f} | **{result['speed']:.2f}** "
                f"| {result['cpu_s']:.1f} | {result['analyzed']} | {result['faces']} | {result['out_mb']:.1f} "
                f"| {result['peak_rss_mb']:.0f} | {', '.join(f'{mb:.0f}' for mb in result['rss_quarters'])} |",
                flush=True,
            )
    print(f"\nLoad: {meter.describe()}")


if __name__ == "__main__":
    main()
