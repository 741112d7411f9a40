"""The live frame processor on synthetic frame sequences: tracking, smoothing, skipping, errors, ICE config."""

import json
import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core.faces.detection import FaceDetector
from fer_core.labels import EMOTIONS
from fer_core.media.live import FrameProcessor, LiveSettings, ice_servers
from fer_core.model.classifier import DEFAULT_MODEL
from fer_core.pipeline import EmotionPipeline, Face

FPS = 15
HEIGHT, WIDTH = 480, 640


def probs_of(label: str, p: float = 0.8) -> np.ndarray:
    probs = np.full(len(EMOTIONS), (1 - p) / (len(EMOTIONS) - 1))
    probs[EMOTIONS.index(label)] = p
    return probs


class FakeClock:
    """Processing time as the fake pipeline says it passes, whatever the machine's load."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakePipeline:
    """Detects the boxes the test sets and gives each face the probabilities the test sets.

    Classifying takes `delay` seconds: on `clock` when given, else really (time.sleep).
    """

    def __init__(self, delay: float = 0.0, clock: FakeClock | None = None):
        self.detector = self
        self.boxes: list[tuple[int, int, int, int]] = []
        self.probs = probs_of("neutral")
        self.delay = delay
        self.clock = clock
        self.fail = False
        self.classify_calls = 0
        self.near_calls = 0

    def detect(self, bgr, settings=None):
        if self.fail:
            raise RuntimeError("detector exploded")
        return list(self.boxes)

    def detect_near(self, bgr, boxes, settings=None):
        self.near_calls += 1
        return self.detect(bgr, settings)

    def classify_boxes(self, bgr, boxes):
        self.classify_calls += 1
        if self.clock:
            self.clock.now += self.delay
        else:
            time.sleep(self.delay)
        return [Face(box, self.probs.copy()) for box in boxes]


def processor_for(pipeline: FakePipeline, settings: LiveSettings = LiveSettings(), **kwargs) -> FrameProcessor:
    """A processor whose timing follows the fake pipeline only, so counts do not depend on the machine's load."""
    pipeline.clock = pipeline.clock or FakeClock()
    return FrameProcessor(pipeline, settings, clock=pipeline.clock, **kwargs)


class FixedClassifier:
    """Stands in for the CNN behind the real detector and crop path: every face is 'happy'."""

    unsure_below = 0.0  # never unsure

    def __init__(self):
        self.batches = 0

    def predict_batch(self, faces):
        assert faces.shape[1:] == (48, 48, 1) and faces.dtype == np.uint8
        self.batches += 1
        return np.tile(probs_of("happy").astype(np.float32), (len(faces), 1))


def blank() -> np.ndarray:
    return np.full((HEIGHT, WIDTH, 3), 90, np.uint8)


def astronaut_frames(astronaut_bgr: np.ndarray, xs: list[int | None]) -> list[np.ndarray]:
    """The astronaut's head (300x250) pasted at x (None: no face) on a plain background."""
    head = astronaut_bgr[0:300, 100:350]
    frames = []
    for x in xs:
        frame = blank()
        if x is not None:
            frame[90:390, x : x + 250] = head
        frames.append(frame)
    return frames


def run(processor: FrameProcessor, pipeline: FakePipeline, boxes_per_frame, start: int = 0):
    """Feed one frame per entry at 15 fps; return the visible tracks after each frame."""
    seen = []
    for i, boxes in enumerate(boxes_per_frame, start=start):
        pipeline.boxes = boxes
        processor.process(blank(), timestamp=i / FPS)
        seen.append(processor.snapshot().tracks)
    return seen


def test_ids_stay_stable_as_faces_move_and_a_second_face_appears():
    pipeline = FakePipeline()
    processor = processor_for(pipeline)
    frames = [[(50 + 6 * i, 100, 120, 120)] + ([(400, 200 - 3 * i, 90, 90)] if i >= 5 else []) for i in range(20)]
    seen = run(processor, pipeline, frames)

    assert [[t.id for t in tracks] for tracks in seen[:5]] == [[1]] * 5
    assert all(sorted(t.id for t in tracks) == [1, 2] for tracks in seen[5:])
    last = {t.id: t.box for t in seen[-1]}
    assert last == {1: (50 + 6 * 19, 100, 120, 120), 2: (400, 200 - 3 * 19, 90, 90)}
    # the chart follows the first face, which is also the larger
    assert processor.snapshot().main.id == 1


def test_face_survives_detector_misses_and_is_dropped_after_the_grace_period():
    pipeline = FakePipeline()
    processor = processor_for(pipeline, LiveSettings(grace_seconds=0.5))
    box = (200, 150, 120, 120)
    # seen for 10 frames, missed for 2 (0.13 s), seen again, then gone for good
    seen = run(processor, pipeline, [[box]] * 10 + [[]] * 2 + [[box]] * 3 + [[]] * 12)

    assert all([t.id for t in tracks] == [1] for tracks in seen[:15]), (
        "a short miss neither hides nor renumbers the face"
    )
    gone_for = [(i - 14) / FPS for i, tracks in enumerate(seen) if i > 14 and tracks]
    assert gone_for and max(gone_for) <= 0.5, "kept only within the grace period"
    assert seen[-1] == [] and seen[14 + 8] == []
    assert processor.snapshot().main is None

    # drawn while kept: the frame after a miss still shows the box
    pipeline.boxes = [box]
    processor.process(blank(), timestamp=30 / FPS)
    processor.process(blank(), timestamp=31 / FPS)
    pipeline.boxes = []
    kept = processor.process(blank(), timestamp=32 / FPS)
    assert not np.array_equal(kept, blank())


def test_a_one_off_false_detection_is_not_left_on_screen():
    pipeline = FakePipeline()
    processor = processor_for(pipeline)
    seen = run(processor, pipeline, [[(300, 300, 60, 60)], [], []])
    assert [len(tracks) for tracks in seen] == [1, 0, 0]


def test_smoothing_damps_a_one_frame_spike():
    pipeline = FakePipeline()
    processor = processor_for(pipeline, LiveSettings(smoothing=0.7))
    box = (200, 150, 120, 120)
    run(processor, pipeline, [[box]] * 10)
    pipeline.probs = probs_of("angry", 0.95)
    spike = run(processor, pipeline, [[box]], start=10)[0][0]
    assert spike.label == "neutral"
    assert spike.probs[EMOTIONS.index("angry")] < 0.5
    pipeline.probs = probs_of("neutral")
    after = run(processor, pipeline, [[box]] * 3, start=11)[-1][0]
    assert after.probs[EMOTIONS.index("angry")] < spike.probs[EMOTIONS.index("angry")]

    # smoothing off (changed while streaming): the spike shows at once
    processor.update_settings(LiveSettings(smoothing=0.0))
    pipeline.probs = probs_of("angry", 0.95)
    unsmoothed = run(processor, pipeline, [[box]], start=14)[0][0]
    assert unsmoothed.label == "angry" and unsmoothed.confidence == pytest.approx(0.95)


def test_a_slow_model_skips_frames_instead_of_queueing_them():
    pipeline = FakePipeline(delay=0.05)  # 50 ms per analysis, camera frames every 33 ms
    processor = processor_for(pipeline)
    pipeline.boxes = [(200, 150, 120, 120)]
    outputs = [processor.process(blank(), timestamp=i / 30) for i in range(30)]

    stats = processor.snapshot().stats
    assert stats.frames == 30 and len(outputs) == 30, "every frame comes back"
    # frames taken while the model was busy show the previous faces: every other frame
    assert (stats.analyzed, stats.reused, stats.errors) == (15, 15, 0)
    assert pipeline.classify_calls == 15
    assert all(not np.array_equal(out, blank()) for out in outputs), "reused frames still show the face"
    assert stats.ms_per_analysis == pytest.approx(50)
    assert stats.fps == pytest.approx(30), "the frame rate is the camera's, not the model's"


def test_a_really_sleeping_model_skips_frames_too():
    pipeline = FakePipeline(delay=0.05)
    processor = FrameProcessor(pipeline)
    pipeline.boxes = [(200, 150, 120, 120)]
    n = 30
    outputs = [processor.process(blank(), timestamp=i / 30) for i in range(n)]

    stats = processor.snapshot().stats
    assert stats.frames == n and len(outputs) == n, "every frame comes back"
    assert stats.analyzed == pipeline.classify_calls
    # the frame after an analysis always arrives while it still runs, so at most every other one is analysed
    assert 2 <= stats.analyzed <= n // 2
    assert stats.reused == n - stats.analyzed
    assert stats.errors == 0
    # reused frames still show the face
    assert all(not np.array_equal(out, blank()) for out in outputs)
    assert stats.ms_per_analysis >= 50


def test_a_fast_model_analyses_every_frame():
    pipeline = FakePipeline()
    processor = processor_for(pipeline)
    run(processor, pipeline, [[(200, 150, 120, 120)]] * 30)
    stats = processor.snapshot().stats
    assert (stats.analyzed, stats.reused) == (30, 0)
    assert stats.fps == pytest.approx(FPS)


def test_at_30_fps_a_fast_model_analyses_two_frames_of_three():
    # at most 20 analyses a second (the default) between frames 33 ms apart: the rate holds, not every other frame
    pipeline = FakePipeline()
    processor = processor_for(pipeline)
    assert processor.settings.max_analyses_per_second == 20
    for i in range(90):
        pipeline.boxes = [(200, 150, 120, 120)]
        out = processor.process(blank(), timestamp=i / 30)
        assert not np.array_equal(out, blank()), "every frame is drawn with the face"
    stats = processor.snapshot().stats
    assert 59 <= stats.analyzed <= 61 and stats.analyzed + stats.reused == 90


def test_an_error_on_one_frame_passes_it_through_and_the_next_frame_works(caplog):
    pipeline = FakePipeline()
    processor = processor_for(pipeline)
    pipeline.boxes = [(200, 150, 120, 120)]
    processor.process(blank(), timestamp=0.0)

    pipeline.fail = True
    frame = blank()
    with caplog.at_level(logging.ERROR, logger="fer_core.media.live"):
        out = processor.process(frame, timestamp=1 / FPS)
    assert out is frame and np.array_equal(out, blank())
    assert "detector exploded" in caplog.text

    pipeline.fail = False
    out = processor.process(blank(), timestamp=2 / FPS)
    assert not np.array_equal(out, blank())
    stats = processor.snapshot().stats
    assert (stats.frames, stats.analyzed, stats.errors) == (3, 2, 1)


@pytest.mark.parametrize("restart_at", [0.0, 60.0], ids=["clock-back", "long-gap"])
def test_a_new_stream_starts_afresh(restart_at):
    pipeline = FakePipeline()
    processor = processor_for(pipeline)
    run(processor, pipeline, [[(200, 150, 120, 120)]] * 30)  # a 2 s stream, then STOP

    pipeline.boxes = []
    out = processor.process(blank(), timestamp=restart_at)  # START again: its frame times begin anew
    snapshot = processor.snapshot()
    assert np.array_equal(out, blank()), "the last stream's face is not drawn on the new one"
    assert snapshot.tracks == [] and snapshot.main is None
    assert len(snapshot.times) == 1, "the chart starts afresh"
    pipeline.boxes = [(300, 150, 120, 120)]
    processor.process(blank(), timestamp=restart_at + 1 / FPS)
    assert [t.id for t in processor.snapshot().tracks] == [2]


def test_timeline_is_bounded_and_marks_frames_without_a_face():
    pipeline = FakePipeline()
    processor = processor_for(pipeline, timeline_length=20)
    run(processor, pipeline, [[(200, 150, 120, 120)]] * 25 + [[]] * 10)
    snapshot = processor.snapshot()
    assert snapshot.times.shape == (20,) and snapshot.probs.shape == (20, len(EMOTIONS))
    assert np.all(np.diff(snapshot.times) > 0)
    assert np.isnan(snapshot.probs[-1]).all(), "no face: a gap in the chart"
    assert snapshot.probs[0, EMOTIONS.index("neutral")] == pytest.approx(0.8)


def test_real_detector_follows_the_astronaut_across_the_frame(astronaut_bgr):
    classifier = FixedClassifier()
    # Frames one second apart: each is analysed however busy the machine is; the grace period is scaled to match.
    processor = FrameProcessor(EmotionPipeline(FaceDetector(), classifier), LiveSettings(grace_seconds=2.5))
    xs = [None] * 5 + list(range(0, 390, 12)) + [None] * 5
    tracks_seen = []
    for i, frame in enumerate(astronaut_frames(astronaut_bgr, xs)):
        out = processor.process(frame, timestamp=float(i))
        tracks_seen.append(processor.snapshot().tracks)
        if i == 20:
            assert not np.array_equal(out, frame), "the face is drawn on the frame"

    assert all(tracks == [] for tracks in tracks_seen[:5]), "no face before it appears"
    moving = tracks_seen[5 : 5 + 33]
    assert all([t.id for t in tracks] == [1] for tracks in moving), "one face, one id, all the way across"
    x_positions = [tracks[0].box[0] for tracks in moving]
    assert x_positions[-1] - x_positions[0] > 300
    assert moving[-1][0].label == "happy"
    assert tracks_seen[-1] == [], "dropped once it has left"
    assert processor.snapshot().stats.analyzed == len(xs) and classifier.batches > 0


@pytest.fixture(scope="module")
def real_pipeline(astronaut_bgr):
    path = Path(os.environ.get("FER_MODEL") or DEFAULT_MODEL)
    if not path.exists():
        pytest.skip(f"no model at {path}")
    pipeline = EmotionPipeline.load(path)
    pipeline.analyze(astronaut_bgr)  # warm-up: the first call traces the graph
    return pipeline


def test_real_model_labels_the_moving_astronaut(astronaut_bgr, real_pipeline):
    processor = FrameProcessor(real_pipeline, LiveSettings(smoothing=0.5, grace_seconds=2.5))
    frames = astronaut_frames(astronaut_bgr, list(range(40, 340, 20)))
    for i, frame in enumerate(frames):
        out = processor.process(frame, timestamp=float(i))  # a second apart: every frame is analysed
    snapshot = processor.snapshot()
    assert [t.id for t in snapshot.tracks] == [1]
    assert snapshot.stats.errors == 0 and snapshot.stats.analyzed == len(frames)
    assert out.shape == frames[-1].shape and not np.array_equal(out, frames[-1])
    if not os.environ.get("FER_MODEL"):  # the stand-in model of a smoke run gives near-random labels
        assert snapshot.main.label == "happy"


def test_ice_servers_default_to_none(monkeypatch):
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    assert ice_servers() == []
    assert ice_servers({}) == []


def test_ice_servers_come_from_the_environment_first(monkeypatch):
    servers = [
        {"urls": ["stun:stun.example.org:3478"]},
        {"urls": "turn:t.example.org", "username": "u", "credential": "p"},
    ]
    monkeypatch.setenv("FER_ICE_SERVERS", json.dumps(servers))
    assert ice_servers() == servers
    assert ice_servers({"ice_servers": [{"urls": "stun:other"}]}) == servers


def test_ice_servers_from_secrets(monkeypatch):
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    assert ice_servers({"ice_servers": [{"urls": "stun:s.example.org"}]}) == [{"urls": "stun:s.example.org"}]

    class NoSecretsFile(dict):  # what st.secrets does when no secrets.toml exists
        def get(self, key, default=None):
            raise FileNotFoundError("No secrets found")

    assert ice_servers(NoSecretsFile()) == []


@pytest.mark.parametrize("value", ["not json", '{"urls": "stun:x"}', '[{"url": "stun:x"}]', '[{"urls": 3}]'])
def test_malformed_ice_servers_are_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("FER_ICE_SERVERS", value)
    with pytest.raises(ValueError, match="FER_ICE_SERVERS"):
        ice_servers()


def test_frames_keep_their_shape_and_type():
    pipeline = FakePipeline()
    processor = processor_for(pipeline, LiveSettings(show_probs=True))
    pipeline.boxes = [(200, 150, 120, 120)]
    frame = cv2.resize(blank(), (1280, 720))
    out = processor.process(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8


def test_clear_forgets_the_stream_at_once_and_the_next_frame_starts_afresh():
    pipeline = FakePipeline()
    processor = processor_for(pipeline)
    run(processor, pipeline, [[(200, 150, 120, 120)]] * 10)
    assert processor.snapshot().tracks and processor.snapshot().stats.frames == 10

    processor.clear()  # the page, on STOP
    snapshot = processor.snapshot()
    assert snapshot.tracks == [] and snapshot.main is None and len(snapshot.times) == 0
    assert snapshot.stats.frames == 0 and snapshot.stats.analyzed == 0
    processor.process(blank(), timestamp=10 / FPS)  # frames go on without a gap: still a fresh start
    assert [t.id for t in processor.snapshot().tracks] == [2]
    assert processor.snapshot().stats.frames == 1


def test_record_holds_every_face_of_every_analysis_and_the_last_frame_until_cleared():
    pipeline = FakePipeline()
    processor = processor_for(pipeline)
    run(processor, pipeline, [[(50, 100, 120, 120), (400, 100, 90, 90)]] * 5 + [[(50, 100, 120, 120)]] * 3)
    record = processor.record()
    assert len(record.times) == 5 * 2 + 3 * 2, "the second face is kept through its grace period"
    assert record.face_ids[:2] == [1, 2] and set(record.face_ids) == {1, 2}
    assert record.probs.shape == (len(record.times), len(EMOTIONS))
    assert record.frame is not None and not np.array_equal(record.frame, blank()), "the frame as annotated"
    processor.clear()
    cleared = processor.record()
    assert len(cleared.times) == 0 and cleared.frame is None


def test_between_full_detections_faces_are_looked_for_near_their_last_place_only():
    pipeline = FakePipeline()
    processor = processor_for(pipeline)
    run(processor, pipeline, [[(200, 150, 120, 120)]] * 15)  # 1 s at 15 fps, every frame analysed
    full = 15 - pipeline.near_calls
    assert pipeline.near_calls >= 10 and 2 <= full <= 3, "the whole frame is searched every 0.5 s"
    seen = run(processor, pipeline, [[(200, 150, 120, 120), (450, 150, 100, 100)]] * 8, start=15)
    assert len(seen[-1]) == 2, "a face that comes in is found by the next full detection, within 0.5 s"


def test_detect_near_follows_a_moved_face_and_ignores_the_rest(astronaut_bgr):
    detector = FaceDetector()
    frames = astronaut_frames(astronaut_bgr, [100, 130])
    (box,) = detector.detect(frames[0])
    near = detector.detect_near(frames[1], [box])
    assert len(near) == 1
    (x, _, w, _), (x0, _, w0, _) = near[0], box
    # the centres, since the two searches' boxes of the face differ in size
    assert 20 < (x + w / 2) - (x0 + w0 / 2) < 40, "the box moved as the face did (30 px)"
    assert detector.detect_near(frames[1], [(0, 0, 80, 80)]) == [], "nothing where no face is"
