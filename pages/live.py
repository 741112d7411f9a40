"""Live page: the webcam stream, annotated on the server, a readout of its faces, and (asked for) a running chart."""

import time

import av
import numpy as np
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from fer_core.media.export import timeline_csv
from fer_core.media.images import encode_jpeg
from fer_core.media.live import FrameProcessor, LiveRecord, LiveSettings, LiveSnapshot, ice_servers
from fer_core.reporting.charts import probability_timeline
from fer_core.resources import live_model_path, pipeline_or_stop, run_inside_app

run_inside_app()

CHART_SECONDS = 30
# The readout and chart are redrawn once a second. Each chart redraw keeps the browser busy (however few
# its points), and the returned video loses frames meanwhile: so the chart is opt-in.
REFRESH_SECONDS = 1.0

st.title(":material/videocam: Live")
st.write(
    "Press **START** and allow the camera: every face is boxed and labelled in the returned video, "
    "and the readout below follows them (turn on the chart in the sidebar to follow the main face's emotions "
    "over time). Frames are analysed on the server."
)


def remembered(widget, label: str, key: str, default, **kwargs):
    """A sidebar widget whose value survives a visit to another page: Streamlit forgets a widget's own
    state once a run goes by without it, so the value is also kept under `key`, which it keeps."""
    st.session_state.setdefault(key, default)

    def keep() -> None:
        st.session_state[key] = st.session_state[f"_{key}"]

    return widget(label, value=st.session_state[key], key=f"_{key}", on_change=keep, **kwargs)


with st.sidebar:
    st.subheader("Face detection")
    min_neighbors = remembered(
        st.slider,
        "Strictness",
        "live_strictness",
        LiveSettings.min_neighbors,
        min_value=0,
        max_value=10,
        help="Higher finds fewer false faces but may miss real ones.",
    )
    min_face = remembered(
        st.slider,
        "Smallest face (% of the shorter side)",
        "live_min_face",
        round(LiveSettings.min_face_fraction * 100),
        min_value=2,
        max_value=40,
        help="Smaller finds faces further from the camera but takes longer per frame.",
    )
    st.subheader("Display")
    smoothing = remembered(
        st.slider,
        "Smoothing",
        "live_smoothing",
        LiveSettings.smoothing,
        min_value=0.0,
        max_value=0.95,
        step=0.05,
        help="Higher steadies the labels but reacts more slowly.",
    )
    show_probs = remembered(st.toggle, "Draw probability bars on the video", "live_show_probs", False)
    show_chart = remembered(
        st.toggle,
        "Chart the main face while streaming",
        "live_show_chart",
        False,
        help=f"Its emotions over the last {CHART_SECONDS} s, redrawn every second. Each redraw keeps the browser "
        "busy for about 0.15 s, and on a machine with few cores the returned video loses frames meanwhile "
        "(about 30 frames a second without the chart, 26-29 with it, on 2 cores). The whole timeline can be "
        "downloaded at STOP either way.",
    )

settings = LiveSettings(
    min_neighbors=min_neighbors, min_face_fraction=min_face / 100, smoothing=smoothing, show_probs=show_probs
)
if "live_processor" not in st.session_state:
    st.session_state.live_processor = FrameProcessor(pipeline_or_stop(live_model_path()), settings)
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


st.caption(
    "No video after START? Allow the camera when the browser asks (or through the camera icon in its "
    "address bar) and press START again; if no camera is connected, plug one in, or use the Photo page."
)


def show(snapshot: LiveSnapshot, key: str, chart_too: bool) -> None:
    stats, main = snapshot.stats, snapshot.main
    with readout.container():
        face, faces, analysed, rate, cost = st.columns([1.6, 0.8, 1, 1, 1])  # room for "surprise 100%"
        face.metric(f"Main face #{main.id}" if main else "Main face", main.caption if main else "none")
        faces.metric("Faces", len(snapshot.tracks))
        analysed.metric("Frames analysed", stats.analyzed)
        rate.metric(
            "Frames per second",
            f"{stats.fps:.1f}",
            help="Frames the server annotated and sent back, per second over the last two seconds. Camera frames "
            "that queue up while it is busy are skipped, and the browser shows the last one again meanwhile.",
        )
        cost.metric(
            "Analysis time (ms)",
            f"{stats.ms_per_analysis:.0f}",
            help="Finding and classifying the faces of one frame, averaged over the last few analyses.",
        )
        st.caption(
            f"{stats.frames} frames returned: {stats.analyzed} analysed, {stats.reused} drawn with the latest "
            f"faces between analyses, {stats.errors} failed."
        )
    if chart_too and np.isfinite(snapshot.probs).any():
        chart.plotly_chart(probability_timeline(snapshot.times, snapshot.probs, CHART_SECONDS), key=key)


def keep_for_download(record: LiveRecord) -> None:
    frame = encode_jpeg(record.frame) if record.frame is not None else None
    timeline = timeline_csv(record.times, record.face_ids, record.probs) if len(record.times) else None
    st.session_state.live_downloads = (frame, timeline)


def offer_downloads() -> None:
    """The frame and timeline kept last (at STOP, or with the button), if there are any."""
    frame, timeline = st.session_state.get("live_downloads", (None, None))
    left, right = st.columns(2)
    if frame is not None:
        left.download_button("Download the frame (JPEG)", frame, "live_frame.jpg", "image/jpeg", on_click="ignore")
    if timeline is not None:
        right.download_button(
            "Download the timeline (CSV)", timeline, "live_timeline.csv", "text/csv", on_click="ignore"
        )


readout = st.empty()
chart = st.empty()
if not ctx.state.playing:
    # Stopped, or not started yet (also after coming back from another page): nothing of an old stream shows.
    ended = st.session_state.pop("live_was_playing", False)
    if ended:
        keep_for_download(processor.record())  # what the stream showed last, and its whole timeline
    processor.clear()
    if ended:
        readout.info("Stream ended. Press START to begin a new one.")
    offer_downloads()
    st.stop()
st.session_state.live_was_playing = True
if st.button("Keep this moment for download", help="The frame on screen now and every face's timeline so far."):
    keep_for_download(processor.record())
offer_downloads()
show(processor.snapshot(), key="timeline", chart_too=show_chart)
refresh = 0
while ctx.state.playing:
    time.sleep(REFRESH_SECONDS)
    refresh += 1
    # A fresh key: the same chart drawn twice in a run clashes.
    show(processor.snapshot(), key=f"timeline-{refresh}", chart_too=show_chart)
