"""Video files: decode a clip frame by frame, label every face, write the annotated clip as H.264 MP4.

`analyze_video` streams the source through PyAV (never the whole clip in memory): each frame is
turned upright (phone clips carry their rotation as metadata), faces are found and classified on
every k-th frame (`VideoSettings.analyses_per_second`), and the same `FaceTracker` as the live page
gives each face a stable id, smooths its probabilities and carries its box over the frames between
analyses. Unlike the live page, a face is shown only once it has been found in two analyses
(`confirm_after`): a file has no hurry, and one-off false detections stay out of the results.

Every frame is drawn and encoded with libx264 at the source's timestamps (so its frame rate,
variable or not, is kept), and the audio track is copied (or re-encoded to AAC when MP4 cannot hold
it). The result holds one `FaceRow` per face per frame, marked `analyzed` on the frames the model
ran on.

User-caused problems (not a video, damaged, too long, too large) raise `VideoError` with a message
meant for the user; on any failure the partial output is discarded (a path is deleted).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from fer_core.faces.detection import Box, DetectorSettings, video_settings
from fer_core.labels import EMOTIONS, Reading
from fer_core.media.drawing import draw_faces
from fer_core.media.tracking import FaceTracker
from fer_core.pipeline import EmotionPipeline

VIDEO_TYPES = ("mp4", "mov", "webm", "avi", "mkv", "m4v")
# Audio codecs an MP4 file can hold as they are; any other is re-encoded to AAC.
MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}
FALLBACK_FPS = Fraction(30)
# Every frame allocates several picture-sized buffers (6 MB each at 1080p). glibc's malloc keeps the
# freed ones and, as their sizes interleave, its heap grows without bound over a long clip. Handing
# freed memory back every this many frames keeps it flat, for a little more CPU time (docs/speed.md).
TRIM_EVERY_FRAMES = 150


class VideoError(ValueError):
    """The input is not a video this app can read, or exceeds the limits; the message says why."""


@dataclass(frozen=True)
class VideoLimits:
    """What the app accepts; above these a video is refused before any frame is decoded."""

    max_megabytes: int = 500
    max_minutes: float = 15.0
    max_side: int = 4096  # pixels on the longer side: 4K is accepted, 8K refused


@dataclass(frozen=True)
class VideoSettings:
    """How a clip is analysed. Detection, tracking and smoothing work as on the live page."""

    analyses_per_second: float = 6.0  # the model runs on every k-th frame, k = fps / this (1 = every frame)
    min_neighbors: int = DetectorSettings.min_neighbors
    # Smallest face, as a share of the shorter side: larger than a photo's 5%, as the detector's time
    # grows as the smallest face searched for shrinks (docs/speed.md). Lower it for crowds far from the camera.
    min_face_fraction: float = 0.08
    detect_max_side: int = DetectorSettings.max_side
    smoothing: float = 0.6
    grace_seconds: float = 0.5
    iou_threshold: float = 0.2
    # A face is drawn and listed once found in this many analyses: a one-off false detection (the
    # Haar cascade now and then also boxes a whole head around a face) never shows. 1 = at once.
    confirm_after: int = 2
    show_probs: bool = False
    preset: str = "veryfast"  # libx264 speed/size trade-off
    crf: int = 23  # libx264 quality: lower is better and larger

    def every(self, fps: float) -> int:
        """Analyse one frame in this many."""
        if self.analyses_per_second <= 0:
            return 1
        return max(1, round(fps / self.analyses_per_second))

    def detector_settings(self) -> DetectorSettings:
        return video_settings(self.min_neighbors, self.min_face_fraction, self.detect_max_side)


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as displayed (after rotation)
    height: int
    fps: float
    frames: int  # the container's count, or an estimate from the duration (0: unknown)
    seconds: float  # duration (0: unknown)
    rotation: int  # degrees counter-clockwise the source is turned for display
    codec: str
    audio: str | None  # the audio codec, None without audio

    def to_dict(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 3),
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "rotation": self.rotation,
            "codec": self.codec,
            "audio": self.audio,
        }


@dataclass(frozen=True)
class FaceRow(Reading):
    """One face on one frame: where it was drawn and its smoothed probabilities there."""

    frame: int  # 0-based frame number
    time_s: float
    face_id: int
    box: Box
    probs: np.ndarray = field(repr=False)  # (7,) in EMOTIONS order
    analyzed: bool  # the model ran on this frame (else the box and probabilities carry over)
    unsure_below: float = 0.0  # the model's threshold


@dataclass(frozen=True)
class FaceSummary:
    face_id: int
    first_s: float
    last_s: float
    seconds_on_screen: float
    dominant: str  # the label it wore longest
    shares: dict[str, float]  # emotion -> share of its frames with that label


@dataclass(frozen=True)
class Progress:
    frames_done: int
    frames_total: int  # 0 when the container does not say
    elapsed_s: float

    @property
    def fraction(self) -> float:
        return min(1.0, self.frames_done / self.frames_total) if self.frames_total else 0.0

    @property
    def seconds_left(self) -> float | None:
        if not self.frames_total or not self.frames_done:
            return None
        return max(0.0, self.elapsed_s * (self.frames_total - self.frames_done) / self.frames_done)


@dataclass
class VideoAnalysis:
    info: VideoInfo
    rows: list[FaceRow]
    frames: int  # frames decoded, annotated and written
    analyzed_frames: list[int]  # numbers of the frames the model ran on
    every: int  # the model ran on one frame in this many
    audio_kept: bool
    processing_s: float

    @property
    def clip_s(self) -> float:
        """The clip's length in seconds, from the frames written."""
        return self.frames / self.info.fps if self.info.fps else 0.0

    @property
    def speed(self) -> float:
        """Times real time: seconds of video per second of processing."""
        return self.clip_s / self.processing_s if self.processing_s > 0 else 0.0

    def timing(self) -> str:
        """How long the analysis took, as people read it: "analysed in 15 s, 0.6x the clip's length"."""
        share = f", {self.processing_s / self.clip_s:.1f}x the clip's length" if self.clip_s > 0 else ""
        return f"analysed in {self.processing_s:.0f} s{share}"

    def face_ids(self) -> list[int]:
        return sorted({row.face_id for row in self.rows})

    def timeline(self, face_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(times, (N, 7) probabilities) of one face on the analysed frames."""
        rows = [row for row in self.rows if row.face_id == face_id and row.analyzed]
        times = np.array([row.time_s for row in rows], np.float64)
        return times, np.array([row.probs for row in rows], np.float64).reshape(len(rows), len(EMOTIONS))

    def summaries(self) -> list[FaceSummary]:
        frame_s = 1 / self.info.fps if self.info.fps else 0.0
        summaries = []
        for face_id in self.face_ids():
            rows = [row for row in self.rows if row.face_id == face_id]
            labels = [row.label for row in rows]
            shares = {name: labels.count(name) / len(labels) for name in EMOTIONS}
            summaries.append(
                FaceSummary(
                    face_id=face_id,
                    first_s=rows[0].time_s,
                    last_s=rows[-1].time_s,
                    seconds_on_screen=len(rows) * frame_s,
                    dominant=max(shares, key=shares.get),
                    shares=shares,
                )
            )
        return summaries


Source = str | Path | BinaryIO
ProgressCallback = Callable[[Progress], None]


def analyze_video(
    pipeline: EmotionPipeline,
    source: Source,
    destination: str | Path | BinaryIO,
    settings: VideoSettings = VideoSettings(),
    limits: VideoLimits = VideoLimits(),
    on_progress: ProgressCallback | None = None,
    progress_every_s: float = 0.25,
) -> VideoAnalysis:
    """Annotate `source` into `destination` (an MP4 path or a writable binary file) and return the rows.

    `on_progress` is called about every `progress_every_s` seconds and once at the end; it may raise
    to cancel (the page's Stop does), and the partial output is then discarded like on any failure.
    """
    _check_size(source, limits)
    try:
        container = av.open(source if not isinstance(source, Path) else str(source), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
        raise VideoError(f"not a video this app can read, or a damaged one ({_reason(error)})") from error
    try:
        with container:
            return _annotate(pipeline, container, destination, settings, limits, on_progress, progress_every_s)
    except BaseException:
        _discard(destination)
        raise


def _annotate(pipeline, container, destination, settings, limits, on_progress, progress_every_s) -> VideoAnalysis:
    started = time.perf_counter()
    if not container.streams.video:
        raise VideoError("the file has no video track")
    source_video = container.streams.video[0]
    source_video.thread_type = "AUTO"
    source_audio = container.streams.audio[0] if container.streams.audio else None
    info = _info(container, source_video, source_audio, limits)  # its rotation is read from the first frame
    labeller = _Labeller(pipeline, settings, settings.every(info.fps))
    report = _Reporter(on_progress, progress_every_s, started)
    try:
        output = av.open(destination if not isinstance(destination, Path) else str(destination), "w", format="mp4")
    except (av.FFmpegError, OSError) as error:
        raise VideoError(f"cannot write the annotated video ({_reason(error)})") from error
    with output:
        writer = _Writer(output, source_video, settings)
        audio = _AudioCopy.open(output, source_audio)
        number, first_time = 0, 0.0
        for frame in _video_frames(container, source_video, audio):
            if number == 0:
                info = _with_rotation(info, frame)
                writer.start(info.width, info.height)
                if audio:
                    audio.start()
                first_time = float(frame.time or 0.0)
            time_s = float(frame.time) - first_time if frame.time is not None else number / info.fps
            if time_s > 60 * limits.max_minutes:
                raise VideoError(f"the video is longer than {limits.max_minutes:g} minutes")
            writer.write(labeller.label(_upright(frame, info), number, time_s), frame)
            number += 1
            if number % TRIM_EVERY_FRAMES == 0:
                _return_freed_memory()
            report(number, info.frames)
        if number == 0:
            raise VideoError("the video has no frames")
        if audio:
            audio.close()
        writer.close()
    report(number, max(number, info.frames), last=True)
    audio_kept = audio is not None and audio.ok
    elapsed = time.perf_counter() - started
    return VideoAnalysis(info, labeller.rows, number, labeller.analyzed, labeller.every, audio_kept, elapsed)


def _video_frames(container, source_video, audio: _AudioCopy | None) -> Iterator[av.VideoFrame]:
    """The video's frames in order, the audio packets met on the way handed to `audio`.

    A clip cut short (an interrupted upload or recording) ends at its last good frame; one that
    breaks before its first frame is refused.
    """
    streams = [source_video] + ([audio.source] if audio else [])
    decoded = 0
    try:
        for packet in container.demux(streams):
            if packet.stream is not source_video:
                audio.mux(packet)
                continue
            for frame in packet.decode():
                decoded += 1
                yield frame
    except av.FFmpegError as error:
        if decoded == 0:
            raise VideoError(f"the video is damaged or truncated ({_reason(error)})") from error


class _Reporter:
    """Calls `on_progress` about every `every_s` seconds, and on the last call whatever the time."""

    def __init__(self, on_progress: ProgressCallback | None, every_s: float, started: float):
        self.on_progress, self.every_s, self.started = on_progress, every_s, started
        self.last = float("-inf")

    def __call__(self, frames_done: int, frames_total: int, last: bool = False) -> None:
        now = time.perf_counter()
        if self.on_progress and (last or now - self.last >= self.every_s):
            self.last = now
            self.on_progress(Progress(frames_done, frames_total, now - self.started))


class _Labeller:
    """The faces of each frame: analysed on every `every`-th frame and followed by the tracker between,
    numbered 1, 2, ... as they are confirmed, kept as rows and drawn."""

    def __init__(self, pipeline: EmotionPipeline, settings: VideoSettings, every: int):
        self.pipeline, self.settings, self.every = pipeline, settings, every
        self.detector_settings = settings.detector_settings()
        self.tracker = FaceTracker(settings.smoothing, settings.grace_seconds, settings.iou_threshold)
        self.rows: list[FaceRow] = []
        self.analyzed: list[int] = []  # the numbers of the frames the model ran on
        self.ids: dict[int, int] = {}  # tracker's id -> the face's number in the output

    def label(self, bgr: np.ndarray, number: int, time_s: float) -> np.ndarray:
        """Frame `number`, at `time_s` from the first, annotated."""
        is_analyzed = number % self.every == 0
        if is_analyzed:
            self.tracker.update(self.pipeline.analyze(bgr, self.detector_settings), time_s)
            self.analyzed.append(number)
        tracks = [track for track in self.tracker.visible() if track.hits >= self.settings.confirm_after]
        for track in tracks:
            self.ids.setdefault(track.id, len(self.ids) + 1)
        self.rows += [
            FaceRow(number, time_s, self.ids[t.id], t.box, t.probs.copy(), is_analyzed and not t.missed, t.unsure_below)
            for t in tracks
        ]
        captions = [f"#{self.ids[track.id]} {track.caption}" for track in tracks]
        return draw_faces(bgr, [track.face for track in tracks], captions, self.settings.show_probs)


class _Writer:
    """H.264 in MP4 at the source's timestamps; frames whose timestamps do not increase are nudged forward."""

    def __init__(self, output, source_video, settings: VideoSettings):
        rate = source_video.average_rate or source_video.guessed_rate or FALLBACK_FPS
        options = {"preset": settings.preset, "crf": str(settings.crf)}
        self.stream = output.add_stream("libx264", rate=rate, options=options)
        self.stream.pix_fmt = "yuv420p"
        self.time_base = source_video.time_base or Fraction(1, 90000)
        self.stream.codec_context.time_base = self.time_base
        self.output = output
        self.first_pts: int | None = None
        self.last_pts = -1

    def start(self, width: int, height: int) -> None:
        """The picture size, known from the first frame (after rotation); before anything is written."""
        self.stream.width, self.stream.height = _even(width), _even(height)

    def write(self, bgr: np.ndarray, source: av.VideoFrame) -> None:
        height, width = self.stream.height, self.stream.width
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr[:height, :width]), format="bgr24")
        if source.pts is None:
            pts = self.last_pts + 1
        else:
            if self.first_pts is None:
                self.first_pts = source.pts
            pts = max(source.pts - self.first_pts, self.last_pts + 1)
        frame.pts, frame.time_base = pts, self.time_base
        self.last_pts = pts
        self._mux(frame)

    def close(self) -> None:
        self._mux(None)  # flush the encoder

    def _mux(self, frame: av.VideoFrame | None) -> None:
        try:
            self.output.mux(self.stream.encode(frame))
        except av.FFmpegError as error:
            raise VideoError(f"cannot write the annotated video ({_reason(error)})") from error


class _AudioCopy:
    """The source's audio in the output: packets copied when MP4 can hold the codec, else re-encoded to AAC.

    A damaged audio track costs the audio, never the video: after the first error it is dropped.
    """

    def __init__(self, output, source, stream, transcode: bool):
        self.output, self.source, self.stream, self.transcode = output, source, stream, transcode
        self.ok = True
        self.waiting: list[av.Packet] | None = []  # packets read before the first video frame

    def start(self) -> None:
        """The video stream is set up: the output's header can be written, and the waiting packets with it."""
        waiting, self.waiting = self.waiting or [], None
        for packet in waiting:
            self.mux(packet)

    @classmethod
    def open(cls, output, source) -> _AudioCopy | None:
        if source is None:
            return None
        try:
            if source.codec_context.name in MP4_AUDIO:
                return cls(output, source, output.add_stream_from_template(source), transcode=False)
            stream = output.add_stream("aac", rate=source.codec_context.sample_rate or 48000)
            return cls(output, source, stream, transcode=True)
        except (av.FFmpegError, ValueError, TypeError):
            return None

    def mux(self, packet: av.Packet) -> None:
        if not self.ok:
            return
        if self.waiting is not None:
            self.waiting.append(packet)
            return
        try:
            if self.transcode:
                for frame in packet.decode():
                    frame.pts = None
                    self.output.mux(self.stream.encode(frame))
            elif packet.dts is not None:
                packet.stream = self.stream
                self.output.mux(packet)
        except (av.FFmpegError, ValueError):
            self.ok = False

    def close(self) -> None:
        if self.ok and self.transcode:
            try:
                self.output.mux(self.stream.encode(None))
            except (av.FFmpegError, ValueError):
                self.ok = False


def probe(source: Source, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """What a video is (size, frame rate, length, rotation, audio) without decoding it; VideoError if refused."""
    _check_size(source, limits)
    try:
        with av.open(source if not isinstance(source, Path) else str(source), metadata_errors="ignore") as container:
            if not container.streams.video:
                raise VideoError("the file has no video track")
            audio = container.streams.audio[0] if container.streams.audio else None
            info = _info(container, container.streams.video[0], audio, limits)
            first = next(container.decode(video=0), None)
            return info if first is None else _with_rotation(info, first)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise VideoError(f"not a video this app can read, or a damaged one ({_reason(error)})") from error
    finally:
        if hasattr(source, "seek"):
            source.seek(0)


def _info(container, video, audio, limits: VideoLimits) -> VideoInfo:
    context = video.codec_context
    width, height = context.width, context.height
    if not width or not height:
        raise VideoError("the video track has no picture size; the file is damaged")
    if max(width, height) > limits.max_side:
        raise VideoError(
            f"the video is {width}x{height} pixels; at most {limits.max_side} pixels on a side are accepted"
        )
    rate = video.average_rate or video.guessed_rate or FALLBACK_FPS
    fps = float(rate)
    if not 0 < fps <= 1000:
        fps = float(FALLBACK_FPS)
    if video.duration is not None and video.time_base:
        seconds = float(video.duration * video.time_base)
    elif container.duration:
        seconds = container.duration / av.time_base
    else:
        seconds = 0.0
    if seconds > 60 * limits.max_minutes:
        raise VideoError(
            f"the video is {seconds / 60:.1f} minutes long; at most {limits.max_minutes:g} minutes are accepted"
        )
    frames = video.frames or round(seconds * fps)
    return VideoInfo(width, height, fps, frames, seconds, 0, context.name, audio.codec_context.name if audio else None)


def _with_rotation(info: VideoInfo, frame: av.VideoFrame) -> VideoInfo:
    """`info` with the display rotation (0, 90, 180 or 270, counter-clockwise) of the video's first frame."""
    rotation = round((frame.rotation or 0) / 90) * 90 % 360
    if rotation % 180:
        return replace(info, rotation=rotation, width=info.height, height=info.width)
    return replace(info, rotation=rotation)


def _libc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        return None


_MALLOC_TRIM = _libc_trim()


def _return_freed_memory() -> None:
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _upright(frame: av.VideoFrame, info: VideoInfo) -> np.ndarray:
    """The frame's picture (BGR) turned upright; VideoError if its size is not the first frame's."""
    bgr = frame.to_ndarray(format="bgr24")
    if info.rotation:
        bgr = np.rot90(bgr, k=info.rotation // 90)
    if bgr.shape[:2] != (info.height, info.width):
        raise VideoError("the picture size changes within the video; this app needs one size")
    return bgr


def _even(n: int) -> int:
    """H.264 in yuv420p needs even sides; an odd one loses its last pixel row or column."""
    return max(2, n - n % 2)


def _check_size(source: Source, limits: VideoLimits) -> None:
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise VideoError(f"{path}: no such file")
        size = path.stat().st_size
    else:
        position = source.tell()
        size = source.seek(0, io.SEEK_END)
        source.seek(position)
    if size == 0:
        raise VideoError("the file is empty")
    if size > limits.max_megabytes * 1024 * 1024:
        raise VideoError(f"the file is {size / 2**20:.0f} MB; at most {limits.max_megabytes} MB are accepted")


def _discard(destination) -> None:
    if isinstance(destination, str | Path):
        Path(destination).unlink(missing_ok=True)
    elif hasattr(destination, "truncate"):
        destination.seek(0)
        destination.truncate()


def _reason(error: BaseException) -> str:
    """What went wrong, without the file's path (FFmpeg's messages end with it)."""
    if isinstance(error, av.FFmpegError):
        return error.strerror or type(error).__name__
    return str(error).split("\n")[0][:120] or type(error).__name__
