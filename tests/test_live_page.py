"""The live page without a browser (AppTest): what it shows when no stream is playing.

The WebRTC widget cannot run under AppTest (it needs a live server session), so it is replaced by a
stand-in whose stream is stopped: as after STOP, or on coming back from another page. The streaming
page itself is tested in a real browser (test_live_browser.py).
"""

from types import SimpleNamespace

import numpy as np
import pytest
import streamlit_webrtc
from streamlit.testing.v1 import AppTest

from fer_core.labels import EMOTIONS
from fer_core.media.live import FrameProcessor
from fer_core.pipeline import Face
from tests.conftest import ROOT

PAGE = str(ROOT / "pages" / "live.py")


class OneFace:
    """A stand-in pipeline: one happy face in every frame."""

    def __init__(self):
        self.detector = self

    def detect(self, bgr, settings=None):
        return [(200, 150, 120, 120)]

    def detect_near(self, bgr, boxes, settings=None):
        return self.detect(bgr, settings)

    def classify_boxes(self, bgr, boxes):
        return [Face(box, np.eye(len(EMOTIONS))[EMOTIONS.index("happy")]) for box in boxes]


@pytest.fixture(autouse=True)
def stopped_widget(monkeypatch):
    monkeypatch.setattr(
        streamlit_webrtc, "webrtc_streamer", lambda **_: SimpleNamespace(state=SimpleNamespace(playing=False))
    )


def streamed_processor() -> FrameProcessor:
    processor = FrameProcessor(OneFace())
    for i in range(20):
        processor.process(np.zeros((480, 640, 3), np.uint8), timestamp=i / 15)
    stats = processor.snapshot().stats
    assert processor.snapshot().main is not None and stats.frames == 20 and stats.errors == 0
    return processor


def test_stop_clears_the_readout_and_the_chart_and_says_the_stream_ended():
    at = AppTest.from_file(PAGE, default_timeout=60)
    processor = streamed_processor()
    at.session_state["live_processor"] = processor
    at.session_state["live_was_playing"] = True  # the stream was playing; the rerun after STOP:
    at.run()
    assert not at.exception
    assert [info.value for info in at.info] == ["Stream ended. Press START to begin a new one."]
    assert not at.get("metric") and not at.get("plotly_chart"), "no figures of the old stream"
    snapshot = processor.snapshot()
    assert snapshot.tracks == [] and len(snapshot.times) == 0 and snapshot.stats.frames == 0

    at.run()  # any later rerun, e.g. back from another page: a clean page, nothing 'ended' to report
    assert not at.info and not at.get("metric")


def test_sidebar_settings_survive_a_visit_to_another_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["live_processor"] = streamed_processor()
    at.switch_page("pages/live.py").run()
    at.slider(key="_live_min_face").set_value(25).run()
    at.toggle(key="_live_show_probs").set_value(True).run()
    assert at.session_state["live_processor"].settings.min_face_fraction == 0.25

    at.switch_page("pages/photo.py").run()
    assert not at.exception
    at.switch_page("pages/live.py").run()
    assert at.slider(key="_live_min_face").value == 25
    assert at.toggle(key="_live_show_probs").value is True
    assert at.session_state["live_processor"].settings.show_probs is True


def test_the_page_says_what_to_do_without_a_camera():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["live_processor"] = streamed_processor()
    at.run()
    assert any("Allow the camera" in caption.value for caption in at.caption)


def test_stop_keeps_the_last_frame_and_the_timeline_for_download():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["live_processor"] = streamed_processor()
    at.session_state["live_was_playing"] = True
    at.run()
    assert not at.exception
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert list(buttons) == ["Download the frame (JPEG)", "Download the timeline (CSV)"]
    frame, timeline = at.session_state["live_downloads"]
    assert frame[:3] == b"\xff\xd8\xff"
    rows = timeline.splitlines()
    assert rows[0] == "time_s,face_id," + ",".join(EMOTIONS)
    assert len(rows) == 1 + 20, "one row per face per analysis, all 20 frames analysed"
    assert rows[1].startswith("0.0,1,") and rows[-1].startswith("1.267,1,")


def test_no_downloads_before_any_stream():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["live_processor"] = FrameProcessor(OneFace())
    at.run()
    assert not at.exception and not at.get("download_button")


class PlayingFor:
    """A stand-in stream state that plays for the page's first `reads` looks, then stops."""

    def __init__(self, reads: int):
        self.reads = reads

    @property
    def playing(self) -> bool:
        self.reads -= 1
        return self.reads >= 0


@pytest.mark.parametrize("chart", [False, True])
def test_while_streaming_the_chart_is_drawn_only_when_asked_for(monkeypatch, chart):
    # Each redraw of the chart costs the browser CPU that the returned video needs, so it is opt-in.
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda **_: SimpleNamespace(state=PlayingFor(3)))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["live_processor"] = streamed_processor()
    at.session_state["live_show_chart"] = chart
    at.run()
    assert not at.exception
    assert [m.label for m in at.metric][:2] == ["Main face #1", "Faces"], "the readout shows either way"
    assert bool(at.get("plotly_chart")) is chart
