"""Video page: upload a clip; every face is tracked, labelled on every frame, charted over time and exported."""

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from fer_core.labels import EMOTIONS
from fer_core.media.export import video_csv, video_json
from fer_core.media.video import Progress, VideoAnalysis, VideoError, VideoLimits, VideoSettings, analyze_video, probe
from fer_core.reporting.charts import face_timeline
from fer_core.resources import live_model_path, pipeline_or_stop, run_inside_app

run_inside_app()

LIMITS = VideoLimits()
STRICTNESS = (0, 10)
SMALLEST_FACE = (2, 40)  # % of the shorter side


@dataclass(frozen=True)
class Finished:
    """One analysed upload, kept in the session so reruns (a download, a chart) do not redo the work."""

    key: tuple
    analysis: VideoAnalysis
    mp4: bytes
    csv: str
    json: str


st.title(":material/movie: Video")
st.write(
    "Upload a clip: every face is followed through it with a stable number, labelled on every frame, "
    "and charted over time. You get the annotated video, a summary per face, and the numbers as CSV or JSON."
)

with st.sidebar:
    st.subheader("Face detection")
    min_neighbors = st.slider(
        "Strictness",
        *STRICTNESS,
        VideoSettings.min_neighbors,
        help="Higher finds fewer false faces but may miss real ones.",
    )
    min_face = st.slider(
        "Smallest face (% of the shorter side)",
        *SMALLEST_FACE,
        round(VideoSettings.min_face_fraction * 100),
        help="Smaller finds faces further from the camera but takes longer per frame.",
    )
    st.subheader("Analysis")
    rate = st.slider(
        "Analyses per second",
        1,
        30,
        round(VideoSettings.analyses_per_second),
        help="How often the model looks at the video. Between two analyses each face keeps its box and "
        "label. Higher follows fast changes better and takes longer.",
    )
    smoothing = st.slider(
        "Smoothing", 0.0, 0.95, VideoSettings.smoothing, 0.05, help="Higher steadies the labels but reacts more slowly."
    )
    show_probs = st.toggle("Draw probability bars on the video", value=False)

settings = VideoSettings(
    analyses_per_second=rate,
    min_neighbors=min_neighbors,
    min_face_fraction=min_face / 100,
    smoothing=smoothing,
    show_probs=show_probs,
)

# No `type=` filter: every file reaches probe(), which says in a visible message why it cannot be read.
upload = st.file_uploader(
    f"Video: MP4, MOV, WebM, AVI or MKV, up to {LIMITS.max_megabytes} MB and {LIMITS.max_minutes:g} minutes",
    max_upload_size=LIMITS.max_megabytes,
)
if upload is None:
    st.stop()

try:
    info = probe(upload, LIMITS)
except VideoError as error:
    st.error(f"Cannot read **{upload.name}**: {error}.")
    st.stop()

length = f"{info.seconds:.1f} s" if info.seconds else "length unknown"
sound = f"audio ({info.audio})" if info.audio else "no audio"
st.caption(f"{upload.name}: {info.width}x{info.height}, {info.fps:.3g} frames per second, {length}, {sound}.")

key = (upload.file_id, settings)
finished: Finished | None = st.session_state.get("video_finished")
if finished is None or finished.key != key:
    stopped: Progress | None = st.session_state.pop("video_stopped", None)
    if stopped is not None:
        st.warning(f"Stopped after {stopped.frames_done} of {stopped.frames_total or '?'} frames; nothing was kept.")
    if not st.button("Analyse the video", type="primary", icon=":material/play_arrow:"):
        st.stop()

    pipeline = pipeline_or_stop(live_model_path())  # the fast model, as on the live page
    bar = st.progress(0.0, text="Starting ...")
    progress_seen = [Progress(0, info.frames, 0.0)]
    # Pressing Stop reruns the page, which ends the running analysis at its next progress report.
    st.button("Stop", icon=":material/stop:", on_click=lambda: st.session_state.update(video_stopped=progress_seen[-1]))

    def report(progress: Progress) -> None:
        progress_seen.append(progress)
        left = progress.seconds_left
        eta = f", about {left:.0f} s left" if left is not None else ""
        of = f" of {progress.frames_total}" if progress.frames_total else ""
        bar.progress(progress.fraction, text=f"Frame {progress.frames_done}{of}{eta}")

    output = io.BytesIO()  # the annotated clip stays in memory, like the upload: nothing is written to disk
    try:
        analysis = analyze_video(pipeline, upload, output, settings, LIMITS, on_progress=report)
    except VideoError as error:
        bar.empty()
        st.error(f"Cannot read **{upload.name}**: {error}.")
        st.stop()
    finished = Finished(key, analysis, output.getvalue(), video_csv(analysis), video_json(analysis))
    st.session_state.video_finished = finished
    st.rerun()  # draw the result without the progress bar and the Stop button

analysis = finished.analysis
st.video(finished.mp4, format="video/mp4")
st.caption(
    f"{analysis.frames} frames ({analysis.clip_s:.1f} s of video), {analysis.timing()}. The model ran on "
    f"{len(analysis.analyzed_frames)} of them (one in {analysis.every}); the frames between carry each face's last box "
    "and label over, marked `analyzed = 0` in the CSV."
    + ("" if not info.audio or analysis.audio_kept else " The audio track could not be read and was left out.")
)

stem = Path(upload.name).stem
columns = st.columns(3)
columns[0].download_button(
    "Download annotated video (MP4)", finished.mp4, f"{stem}_emotions.mp4", "video/mp4", icon=":material/download:"
)
summaries = analysis.summaries()
if not summaries:
    sliders = [("the strictness", min_neighbors, STRICTNESS[0]), ("the smallest face", min_face, SMALLEST_FACE[0])]
    lower = [name for name, value, lowest in sliders if value > lowest]
    advice = f": try lowering {' and '.join(lower)}" if lower else ", turned towards the camera"
    st.info(f"No face found in the video. The detector looks for frontal faces{advice}.")
    st.stop()
columns[1].download_button("Download results (CSV)", finished.csv, f"{stem}_emotions.csv", "text/csv")
columns[2].download_button("Download results (JSON)", finished.json, f"{stem}_emotions.json", "application/json")

st.subheader(f"{len(summaries)} face{'s' if len(summaries) > 1 else ''}")
table = pd.DataFrame(
    [
        {
            "face": f"#{s.face_id}",
            "seen (s)": f"{s.first_s:.1f}-{s.last_s:.1f}",
            "on screen (s)": round(s.seconds_on_screen, 1),
            "mostly": s.dominant,
            **{name: s.shares[name] for name in EMOTIONS},
        }
        for s in summaries
    ]
)
st.dataframe(
    table,
    hide_index=True,
    column_config={
        name: st.column_config.ProgressColumn(name, format="percent", min_value=0, max_value=1, width="small")
        for name in EMOTIONS
    },
)
st.caption("The emotion columns give the share of the face's frames that carried each label.")

shown = [s.face_id for s in summaries]
if len(shown) > 3:
    shown = [st.selectbox("Timeline of face", shown, format_func=lambda face_id: f"#{face_id}")]
for face_id in shown:
    times, probs = analysis.timeline(face_id)
    st.plotly_chart(face_timeline(times, probs, f"Face #{face_id}"), key=f"timeline-{face_id}")
