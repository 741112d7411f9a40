"""The video page in AppTest: a clip goes in, the annotated video, summary, timeline and downloads come out;
a broken file gets one message."""

import io
import re

import av
import numpy as np
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.video_clips import face_clip

PAGE = str(ROOT / "pages" / "video.py")


def test_a_clip_is_analysed_into_video_summary_chart_and_downloads():
    clip = io.BytesIO()
    count = face_clip(clip, 640, 480, fps=30, seconds=1.0)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value(("walk.mp4", clip.getvalue(), "video/mp4")).run()
    assert not at.exception and not at.error
    assert "640x480" in at.caption[0].value
    [start] = [b for b in at.button if b.label == "Analyse the video"]
    start.click().run()
    assert not at.exception and not at.error
    assert f"{count} frames" in at.caption[1].value and "one in 5" in at.caption[1].value
    assert re.search(r"\(1\.0 s of video\), analysed in \d+ s, \d+\.\dx the clip's length\.", at.caption[1].value)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download annotated video (MP4)", "Download results (CSV)", "Download results (JSON)"]
    table = at.dataframe[0].value
    assert list(table["face"]) == ["#1"]
    assert len(at.get("plotly_chart")) == 1
    assert len(at.get("video")) == 1


def test_a_text_file_named_mp4_gets_one_message():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value(("holiday.mp4", b"not a video at all" * 100, "video/mp4")).run()
    assert not at.exception
    assert "Cannot read **holiday.mp4**: not a video" in at.error[0].value
    assert not [b for b in at.button if b.label == "Analyse the video"]


def test_after_stop_the_page_says_where_it_stopped_and_offers_to_start_again():
    from fer_core.media.video import Progress

    clip = io.BytesIO()
    face_clip(clip, 320, 240, fps=10, seconds=1.0)
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value(("walk.mp4", clip.getvalue(), "video/mp4")).run()
    # what the Stop button's callback leaves for the rerun it causes
    at.session_state["video_stopped"] = Progress(87, 450, 3.0)
    at.run()
    assert not at.exception
    assert at.warning[0].value == "Stopped after 87 of 450 frames; nothing was kept."
    assert [b.label for b in at.button] == ["Analyse the video"] and not at.get("video")


def blank_clip(frames: int = 10) -> bytes:
    """A short clip of plain grey frames: nothing for the detector to find."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 128, np.uint8), format="bgr24")
            output.mux(stream.encode(frame))
        output.mux(stream.encode())
    return buffer.getvalue()


def test_no_face_advice_names_only_the_sliders_that_can_still_go_lower():
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.file_uploader[0].set_value(("wall.mp4", blank_clip(), "video/mp4")).run()
    assert [slider.label for slider in at.slider][:2] == ["Strictness", "Smallest face (% of the shorter side)"]
    advice = {}
    for settings in ((0, 2), (0, 5), (3, 2)):
        at.slider[0].set_value(settings[0])
        at.slider[1].set_value(settings[1])
        at.run()
        [start] = [b for b in at.button if b.label == "Analyse the video"]
        start.click().run()
        assert not at.exception and not at.error
        advice[settings] = at.info[0].value
    lead = "No face found in the video. The detector looks for frontal faces"
    assert advice[(0, 2)] == f"{lead}, turned towards the camera."
    assert advice[(0, 5)] == f"{lead}: try lowering the smallest face."
    assert advice[(3, 2)] == f"{lead}: try lowering the strictness."
