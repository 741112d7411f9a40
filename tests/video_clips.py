"""Video clips made in code with PyAV, for tests/test_video.py and bench/bench_video.py.

`face_clip` writes a real face photo (scikit-image's astronaut, smiling) moving across a grey ramp,
optionally with an audio tone and a display rotation. `hostile_videos` returns the broken and
hostile files a user might upload, each with a piece of the message they should get.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def astronaut_head(height: int) -> np.ndarray:
    """The astronaut's head and shoulders (BGR), scaled to `height` pixels."""
    from skimage import data

    head = np.ascontiguousarray(data.astronaut()[0:300, 100:350, ::-1])
    return cv2.resize(head, None, fx=height / 300, fy=height / 300, interpolation=cv2.INTER_AREA)


def face_frames(width: int, height: int, count: int, face_height: int | None = None):
    """`count` BGR frames: the head sliding left to right across a vertical grey ramp."""
    face_height = face_height or height * 5 // 8
    head = astronaut_head(face_height)
    background = np.repeat(np.linspace(60, 200, height, dtype=np.uint8)[:, None], width, axis=1)
    background = np.ascontiguousarray(np.dstack([background] * 3))
    top = (height - head.shape[0]) // 2
    travel = width - head.shape[1]
    for i in range(count):
        frame = background.copy()
        x = round(travel * i / max(1, count - 1))
        frame[top : top + head.shape[0], x : x + head.shape[1]] = head
        yield frame


def face_clip(
    destination: str | Path | io.BytesIO,
    width: int = 640,
    height: int = 480,
    fps: int = 30,
    seconds: float = 2.0,
    audio: bool = False,
    rotation: int = 0,
    container_format: str = "mp4",
    codec: str = "libx264",
    timestamps: list[float] | None = None,
) -> int:
    """Write the moving-face clip; return its number of frames.

    `rotation` stores the frames turned by that many degrees clockwise with a display matrix that
    turns them back (as phones record portrait clips). `timestamps` (seconds) give a variable frame rate.
    """
    count = len(timestamps) if timestamps is not None else round(fps * seconds)
    output = av.open(
        destination if not isinstance(destination, Path) else str(destination), "w", format=container_format
    )
    with output:
        stored_w, stored_h = (height, width) if rotation % 180 else (width, height)
        video = output.add_stream(codec, rate=fps, options={"preset": "ultrafast"} if codec == "libx264" else {})
        video.width, video.height, video.pix_fmt = stored_w, stored_h, "yuv420p"
        time_base = Fraction(1, 1000)
        video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        sound = output.add_stream("aac", rate=44100) if audio else None
        for i, bgr in enumerate(face_frames(width, height, count)):
            stored = np.ascontiguousarray(np.rot90(bgr, k=-(rotation // 90))) if rotation else bgr
            frame = av.VideoFrame.from_ndarray(stored, format="bgr24")
            t = timestamps[i] if timestamps is not None else i / fps
            frame.pts, frame.time_base = round(t * 1000), time_base
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
        if sound is not None:
            duration = count / fps
            samples = int(44100 * duration)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = tone[None, start : start + 1024]
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate, frame.pts = 44100, start
                output.mux(sound.encode(frame))
            output.mux(sound.encode(None))
    return count


def audio_only_clip(destination: Path) -> None:
    with av.open(str(destination), "w", format="mp4") as output:
        sound = output.add_stream("aac", rate=44100)
        tone = np.zeros((1, 44100), np.float32)
        for start in range(0, 44100, 1024):
            frame = av.AudioFrame.from_ndarray(tone[:, start : start + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts = 44100, start
            output.mux(sound.encode(frame))
        output.mux(sound.encode(None))


def zero_frame_clip(destination: Path) -> None:
    """An AVI with a video track that holds no frame (an MP4 without frames loses the track itself)."""
    with av.open(str(destination), "w", format="avi") as output:
        video = output.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        output.start_encoding()
        output.mux(video.encode(None))


def huge_clip(destination: Path, width: int = 7680, height: int = 4320) -> None:
    """One black 8K frame (small on disk: it compresses to almost nothing)."""
    with av.open(str(destination), "w", format="mp4") as output:
        video = output.add_stream("libx264", rate=1, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        output.mux(video.encode(av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), format="bgr24")))
        output.mux(video.encode(None))


def hostile_videos(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, a piece of the one-line message it must produce)."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, tuple[Path, str]] = {}

    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    cases["empty"] = (empty, "empty")

    text = folder / "notes.mp4"
    text.write_text("These are my meeting notes, not a video.\n" * 50)
    cases["text renamed .mp4"] = (text, "not a video")

    good = folder / "good.mp4"
    face_clip(good, 160, 120, fps=10, seconds=1.0)
    truncated = folder / "truncated.mp4"  # the index (moov) is written last: cutting the file loses it
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases["truncated mp4"] = (truncated, "not a video")

    audio = folder / "audio_only.mp4"
    audio_only_clip(audio)
    cases["audio only"] = (audio, "no video track")

    zero = folder / "zero_frames.avi"
    zero_frame_clip(zero)
    cases["zero frames"] = (zero, "no frames")

    huge = folder / "8k.mp4"
    huge_clip(huge)
    cases["8K dimensions"] = (huge, "7680x4320")
    return cases


def repeat_clip(source: Path, destination: Path, times: int) -> None:
    """`source` played `times` times over, in one file: its packets copied with shifted timestamps (no re-encoding,
    so a long clip is quick to make). Each stream is shifted by its own length, so its timestamps keep increasing."""
    with av.open(str(destination), "w", format="mp4") as output:
        streams: dict = {}
        offsets: dict[int, int] = {}  # stream index -> shift of the current pass, in that stream's time base
        for _ in range(times):
            starts: dict[int, int] = {}
            ends: dict[int, int] = {}
            with av.open(str(source)) as container:
                if not streams:
                    streams = {s.index: output.add_stream_from_template(s) for s in container.streams}
                for packet in container.demux():
                    if packet.dts is None:
                        continue
                    index = packet.stream.index
                    starts.setdefault(index, packet.dts)
                    ends[index] = max(ends.get(index, packet.dts), packet.dts + (packet.duration or 1))
                    shift = offsets.get(index, 0)
                    packet.pts += shift
                    packet.dts += shift
                    packet.stream = streams[index]
                    output.mux(packet)
            for index, end in ends.items():
                offsets[index] = offsets.get(index, 0) + end - starts[index]
