"""Live video: the per-frame work of the webcam page, kept free of Streamlit so it can be tested on its own.

A `FrameProcessor` gets one frame at a time from the WebRTC callback thread and returns it annotated.
Between frames it does what a photo does not need:

- it skips the model when it is behind: if the last analysis took longer than the time since that
  frame, the new frame is drawn with the previous faces instead of being analysed; and it analyses
  at most `max_analyses_per_second` (two frames of every three from a 30 fps camera), so that
  drawing the frames between keeps up with the camera;
- between full detections (every `FULL_DETECTION_SECONDS`) it looks for faces only near where they
  were (`FaceDetector.detect_near`), a fraction of a whole frame's search;
- a `FaceTracker` (`fer_core.media.tracking`, shared with video files) matches faces across frames by box
  overlap, gives each a stable id, smooths its probabilities over time and keeps it through short
  detector misses;
- it measures processing time and frame rate, and publishes the tracks, the stats and a timeline
  of the main face's probabilities under a lock, for the page thread to read with `snapshot()`.

Detection and classification are the shared pipeline's (`EmotionPipeline.detector.detect` and
`EmotionPipeline.classify_boxes`), so a live face is prepared for the model exactly as a photo's.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from fer_core.faces.detection import Box, DetectorSettings, video_settings
from fer_core.labels import EMOTIONS
from fer_core.media.drawing import draw_faces
from fer_core.media.tracking import FaceTracker, Track
from fer_core.pipeline import Face

logger = logging.getLogger(__name__)

ICE_SERVERS_ENV = "FER_ICE_SERVERS"


class Detector(Protocol):
    def detect(self, bgr: np.ndarray, settings: DetectorSettings | None = None) -> list[Box]: ...

    def detect_near(self, bgr: np.ndarray, boxes: list[Box], settings: DetectorSettings | None = None) -> list[Box]: ...


class Pipeline(Protocol):
    """What the processor needs of an `EmotionPipeline`."""

    detector: Detector

    def classify_boxes(self, bgr: np.ndarray, boxes: list[Box]) -> list[Face]: ...


@dataclass(frozen=True)
class LiveSettings:
    """What the user can change while the camera runs."""

    min_neighbors: int = DetectorSettings.min_neighbors  # detector strictness
    # Smallest face, share of the shorter side: a webcam face at arm's length fills a third of the frame,
    # and searching for small faces is most of the detector's time.
    min_face_fraction: float = 0.15
    smoothing: float = 0.6  # weight of the past in each face's probabilities: 0 = none, 0.9 = strong
    show_probs: bool = False  # draw the seven probability bars beside each face
    grace_seconds: float = 0.5  # how long a face the detector lost is kept (and drawn) before it is dropped
    iou_threshold: float = 0.2  # least box overlap for a detection to continue a track
    detect_max_side: int = 480  # detection runs on a copy this size; webcam faces are large
    # Analyses at most this often: the frames between are drawn at once with the latest faces, so the
    # analysis never takes all of the video thread's time (at 30 fps, two frames of every three).
    max_analyses_per_second: float = 20.0

    def detector_settings(self) -> DetectorSettings:
        return video_settings(self.min_neighbors, self.min_face_fraction, self.detect_max_side)


@dataclass(frozen=True)
class LiveStats:
    frames: int = 0  # frames returned
    analyzed: int = 0  # frames the model ran on
    reused: int = 0  # frames drawn with the latest faces, not analysed (the model busy, or between analyses)
    errors: int = 0  # frames passed through unchanged because processing failed
    fps: float = 0.0  # frames returned per second, over the last two seconds
    ms_per_frame: float = 0.0  # time `process` takes, averaged over all frames (moving average)
    ms_per_analysis: float = 0.0  # time of detection + classification on analysed frames (moving average)


@dataclass(frozen=True)
class LiveSnapshot:
    """A copy of the processor's state for the page thread."""

    tracks: list[Track]  # visible faces
    main: Track | None
    stats: LiveStats
    times: np.ndarray  # (N,) timestamps of the last analyses, seconds
    probs: np.ndarray  # (N, 7) main face's smoothed probabilities then; NaN when there was no face


@dataclass(frozen=True)
class LiveRecord:
    """What the stream can give to download: every face of every analysis since START, and the last frame."""

    times: np.ndarray  # (N,) seconds, one per face per analysis
    face_ids: list[int]  # (N,)
    probs: np.ndarray  # (N, 7) that face's smoothed probabilities then
    frame: np.ndarray | None  # the last frame returned, annotated (BGR)


class FrameProcessor:
    """Annotates the frames of one stream; `process` runs on the video thread, the rest anywhere."""

    FPS_WINDOW_SECONDS = 2.0
    AVERAGE_WEIGHT = 0.1  # weight of the newest frame in the moving averages of the timings
    # Timestamps that go back, or jump ahead by more than this, mean a new stream (STOP, then START):
    # its faces and timeline start afresh.
    NEW_STREAM_GAP_SECONDS = 2.0
    # The whole frame is searched at least this often (a face that comes in is found within it);
    # in between, only the regions of the faces already followed.
    FULL_DETECTION_SECONDS = 0.5

    def __init__(
        self,
        pipeline: Pipeline,
        settings: LiveSettings = LiveSettings(),
        timeline_length: int = 300,
        history_rows: int = 100_000,  # faces x analyses kept for the CSV: over an hour of one face at 20 a second
        clock: Callable[[], float] = time.perf_counter,  # measures processing time; tests pass a fake one
    ):
        self.pipeline = pipeline
        self._clock = clock
        self.tracker = FaceTracker(settings.smoothing, settings.grace_seconds, settings.iou_threshold)
        self._lock = threading.Lock()  # guards everything below that the page thread reads or writes
        self._settings = settings
        self._stats = LiveStats()
        self._published: list[Track] = []
        self._main: Track | None = None
        self._timeline: deque[tuple[float, np.ndarray]] = deque(maxlen=timeline_length)
        self._history: deque[tuple[float, int, np.ndarray]] = deque(maxlen=history_rows)
        self._last_frame: np.ndarray | None = None
        self._cleared = False  # set by `clear`; the processing thread then forgets its tracks
        # used by the processing thread only
        self._next_analysis = float("-inf")
        self._last_full_detection = float("-inf")
        self._last_timestamp = float("-inf")
        self._recent: deque[float] = deque()
        self._last_error_log = float("-inf")

    def update_settings(self, settings: LiveSettings) -> None:
        """Called from the page; takes effect from the next frame."""
        with self._lock:
            self._settings = settings

    @property
    def settings(self) -> LiveSettings:
        with self._lock:
            return self._settings

    def clear(self) -> None:
        """Forget the stream: faces, timeline and counts (the page calls it when the stream stops). Any thread."""
        with self._lock:
            self._forget_published()
            self._cleared = True

    def process(self, bgr: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """The frame annotated with every visible face; the frame itself, unchanged, if anything fails.

        `timestamp` is when the frame was taken, in seconds (default: now). The model runs on this frame
        only if the previous analysis took less time than has passed since that frame; otherwise the
        previous faces are drawn on this frame, so a slow model lowers the analysis rate, never the
        frame rate, and no work piles up.
        """
        now = time.monotonic() if timestamp is None else timestamp
        started = self._clock()
        with self._lock:
            settings, cleared, self._cleared = self._settings, self._cleared, False
        if cleared or not 0 <= now - self._last_timestamp <= self.NEW_STREAM_GAP_SECONDS:
            self._start_stream()
        analysis_ms = None
        try:
            if now >= self._next_analysis:
                self._analyze(bgr, now, settings)
                analysis_ms = 1000 * (self._clock() - started)
                self._next_analysis = self._next_due(now, analysis_ms / 1000, 1 / settings.max_analyses_per_second)
            tracks = self.tracker.visible()
            captions = [f"#{track.id} {track.caption}" for track in tracks]
            out = draw_faces(bgr, [track.face for track in tracks], captions, show_probs=settings.show_probs)
            self._last_frame = out  # one reference swapped, read by `record`
            failed = False
        except Exception:
            self._log_error(now)
            out, failed = bgr, True
        self._record(now, 1000 * (self._clock() - started), analysis_ms, failed)
        return out

    def _next_due(self, now: float, analysis_seconds: float, interval: float) -> float:
        """When the next analysis may run: one `interval` after this one was due, so that the rate holds
        although frames come at their own ticks (at 30 fps and 20 a second, two frames of every three),
        never more than one interval in arrears (no burst after a stall), and not before the time this
        analysis took has passed again (a slow model lowers the rate; frames never queue)."""
        due = max(self._next_analysis, now - interval) + interval
        return max(due, now + analysis_seconds)

    def _start_stream(self) -> None:
        self.tracker.tracks.clear()
        self._next_analysis = float("-inf")
        self._last_full_detection = float("-inf")
        self._recent.clear()
        with self._lock:
            self._forget_published()

    def _forget_published(self) -> None:
        """Empty what the page reads (faces, timeline, counts, last frame); the caller holds the lock."""
        self._published, self._main = [], None
        self._timeline.clear()
        self._history.clear()
        self._last_frame = None
        self._stats = LiveStats()

    def _analyze(self, bgr: np.ndarray, now: float, settings: LiveSettings) -> None:
        # Between full detections, faces are only looked for where they were: a fraction of the time.
        known = [track.box for track in self.tracker.tracks if track.missed == 0]
        if known and now - self._last_full_detection < self.FULL_DETECTION_SECONDS:
            boxes = self.pipeline.detector.detect_near(bgr, known, settings.detector_settings())
        else:
            boxes = self.pipeline.detector.detect(bgr, settings.detector_settings())
            self._last_full_detection = now
        faces = self.pipeline.classify_boxes(bgr, boxes) if boxes else []
        self.tracker.smoothing = settings.smoothing
        self.tracker.grace_seconds = settings.grace_seconds
        self.tracker.iou_threshold = settings.iou_threshold
        tracks = [replace(track, probs=track.probs.copy()) for track in self.tracker.update(faces, now)]
        main = self.tracker.main()
        main_copy = next((track for track in tracks if main is not None and track.id == main.id), None)
        point = main_copy.probs if main_copy is not None else np.full(len(EMOTIONS), np.nan)
        with self._lock:
            self._published = tracks
            self._main = main_copy
            self._timeline.append((now, point))
            self._history.extend((now, track.id, track.probs) for track in tracks)

    def _record(self, now: float, frame_ms: float, analysis_ms: float | None, failed: bool) -> None:
        self._last_timestamp = now
        self._recent.append(now)
        while now - self._recent[0] > self.FPS_WINDOW_SECONDS:
            self._recent.popleft()
        span = now - self._recent[0]
        fps = (len(self._recent) - 1) / span if span > 0 else 0.0
        with self._lock:
            stats = self._stats
            self._stats = LiveStats(
                frames=stats.frames + 1,
                analyzed=stats.analyzed + (analysis_ms is not None),
                reused=stats.reused + (analysis_ms is None and not failed),
                errors=stats.errors + failed,
                fps=fps,
                ms_per_frame=self._average(stats.ms_per_frame, frame_ms, stats.frames),
                ms_per_analysis=stats.ms_per_analysis
                if analysis_ms is None
                else self._average(stats.ms_per_analysis, analysis_ms, stats.analyzed),
            )

    def _average(self, average: float, value: float, count: int) -> float:
        return value if count == 0 else (1 - self.AVERAGE_WEIGHT) * average + self.AVERAGE_WEIGHT * value

    def _log_error(self, now: float) -> None:
        # A fault that repeats on every frame would flood the log: one traceback per 10 s.
        if now - self._last_error_log >= 10 or now < self._last_error_log:
            self._last_error_log = now
            logger.exception("processing a video frame failed; the frame is passed through unchanged")

    def snapshot(self) -> LiveSnapshot:
        """The latest tracks, stats and timeline, copied; safe to call from any thread."""
        with self._lock:
            points = list(self._timeline)
            tracks, main, stats = list(self._published), self._main, self._stats
        times = np.array([t for t, _ in points], np.float64)
        probs = np.array([p for _, p in points], np.float64).reshape(len(points), len(EMOTIONS))
        return LiveSnapshot(tracks, main, stats, times, probs)

    def record(self) -> LiveRecord:
        """Every face of every analysis since the stream started, and the last frame; safe from any thread."""
        with self._lock:
            rows, frame = list(self._history), self._last_frame
        times = np.array([t for t, _, _ in rows], np.float64)
        probs = np.array([p for _, _, p in rows], np.float64).reshape(len(rows), len(EMOTIONS))
        return LiveRecord(times, [face_id for _, face_id, _ in rows], probs, frame)


def ice_servers(secrets: Mapping | None = None) -> list[dict]:
    """STUN/TURN servers for WebRTC: $FER_ICE_SERVERS (a JSON list of RTCIceServer objects), else
    `ice_servers` in `secrets` (pass `st.secrets`), else none.

    None is right for localhost and a LAN: the browser and the server reach each other directly and
    no outside server is contacted. A deployment behind NAT needs a TURN server, e.g.
    `FER_ICE_SERVERS='[{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]'`.
    Raises ValueError, naming the source, when the configuration is malformed.
    """
    raw = os.environ.get(ICE_SERVERS_ENV, "").strip()
    if raw:
        try:
            return _checked_servers(json.loads(raw), f"${ICE_SERVERS_ENV}")
        except json.JSONDecodeError as error:
            raise ValueError(f"${ICE_SERVERS_ENV} is not valid JSON: {error}") from error
    if secrets is None:
        return []
    try:
        configured = secrets.get("ice_servers")
    except FileNotFoundError:  # st.secrets raises this (StreamlitSecretNotFoundError) when there is no secrets file
        return []
    return [] if configured is None else _checked_servers(configured, "ice_servers in the secrets file")


def _checked_servers(servers, source: str) -> list[dict]:
    if not isinstance(servers, list | tuple):
        raise ValueError(f"{source} must be a list of ICE servers, got {type(servers).__name__}")
    checked = []
    for server in servers:
        if not isinstance(server, Mapping) or "urls" not in server:
            raise ValueError(f'{source}: each ICE server needs "urls", got {server!r}')
        urls = server["urls"]
        if not (isinstance(urls, str) or (isinstance(urls, list | tuple) and all(isinstance(u, str) for u in urls))):
            raise ValueError(f'{source}: "urls" must be a string or a list of strings, got {urls!r}')
        checked.append(
            {
                key: list(value) if key == "urls" and not isinstance(value, str) else value
                for key, value in server.items()
            }
        )
    return checked
