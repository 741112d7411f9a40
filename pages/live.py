"""Live page: the webcam stream, annotated on the server, and a running chart of the main face's emotions."""

import time

import av
import numpy as np
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from fer_core.charts import probability_timeline
from fer_core.live import FrameProcessor, LiveSettings, LiveSnapshot, ice_servers
from fer_core.resources import pipeline_or_stop, run_inside_app

run_inside_app()

CHART_SECONDS = 30
REFRESH_SECONDS = 0.5

st.title(":material/videocam: Live")
st.write(
    "Press **START** and allow the camera: every face is boxed and labelled in the returned video, "
    "and the chart follows the main face's emotions. Frames are analysed on the server."
)

with st.sidebar:
    st.subheader("Face detection")
    min_neighbors = st.slider(
        "Strictness", 2, 10, LiveSettings.min_neighbors, help="Higher finds fewer false faces but may miss real ones."
    )
    min_face = st.slider("Smallest face (% of the shorter side)", 2, 40, round(LiveSettings.min_face_fraction * 100))
    st.subheader("Display")
    smoothing = st.slider(
        "Smoothing", 0.0, 0.95, LiveSettings.smoothing, 0.05, help="Higher steadies the labels but reacts more slowly."
    )
    show_probs = st.toggle("Draw probability bars on the video", value=False)

settings = LiveSettings(
    min_neighbors=min_neighbors, min_face_fraction=min_face / 100, smoothing=smoothing, show_probs=show_probs
)
if "live_processor" not in st.session_state:
    st.session_state.live_processor = FrameProcessor(pipeline_or_stop(), settings)
processor: FrameProcessor = st.session_state.live_processor
processor.update_settings(settings)


def video_frame_callback(frame: av.VideoFrame) -> av.VideoFrame:
    # Runs on the WebRTC thread: no st.* here; the page reads processor.snapshot().
    # frame.time is the capture time, which lets the processor tell a frame taken while it was busy.
    annotated = processor.process(frame.to_ndarray(format="bgr24"), frame.time)
    return av.VideoFrame.from_ndarray(annotated, format="bgr24")


try:
    servers = ice_servers(st.secrets)
except ValueError as error:
    st.error(f"The WebRTC server configuration is invalid: {error}")
    st.stop()

ctx = webrtc_streamer(
    key="live",
    mode=WebRtcMode.SENDRECV,
    video_frame_callback=video_frame_callback,
    rtc_configuration={"iceServers": servers},
    media_stream_constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}, "audio": False},
    async_processing=True,
)


def show(snapshot: LiveSnapshot, key: str) -> None:
    stats, main = snapshot.stats, snapshot.main
    with readout.container():
        face, faces, analysed, rate, cost = st.columns(5)
        face.metric(
            f"Main face #{main.id}" if main else "Main face", f"{main.label} {main.confidence:.0%}" if main else "none"
        )
        faces.metric("Faces", len(snapshot.tracks))
        analysed.metric("Frames analysed", stats.analyzed)
        rate.metric("Frames per second", f"{stats.fps:.1f}")
        cost.metric("ms per frame", f"{stats.ms_per_frame:.0f}")
        st.caption(
            f"{stats.frames} frames returned: {stats.analyzed} analysed ({stats.ms_per_analysis:.0f} ms each), "
            f"{stats.reused} drawn with the previous faces while the model was busy, {stats.errors} failed."
        )
    if np.isfinite(snapshot.probs).any():
        chart.plotly_chart(probability_timeline(snapshot.times, snapshot.probs, CHART_SECONDS), key=key)


readout = st.empty()
chart = st.empty()
show(processor.snapshot(), key="timeline")
refresh = 0
while ctx.state.playing:
    time.sleep(REFRESH_SECONDS)
    refresh += 1
    show(processor.snapshot(), key=f"timeline-{refresh}")  # a fresh key: the same chart drawn twice in a run clashes
