"""Photo page: upload a picture; every face is boxed, labelled and charted."""

import json
from pathlib import Path

import streamlit as st

from fer_core.charts import probability_bars
from fer_core.detection import DetectorSettings
from fer_core.images import ImageError, decode_image, encode_png
from fer_core.preprocess import crop_face
from fer_core.rendering import draw_faces
from fer_core.resources import pipeline_or_stop, run_inside_app

run_inside_app()

st.title(":material/photo_camera: Photo")
st.write("Upload a photo: every face found is boxed and labelled with its most likely emotion.")

with st.sidebar:
    st.subheader("Face detection")
    min_neighbors = st.slider(
        "Strictness",
        2,
        10,
        DetectorSettings.min_neighbors,
        help="Higher finds fewer false faces but may miss real ones.",
    )
    min_face = st.slider(
        "Smallest face (% of the shorter side)", 2, 40, round(DetectorSettings.min_face_fraction * 100)
    )
    show_probs = st.toggle("Draw probability bars on the image", value=False)

# No `type=` filter: Streamlit would refuse other files with only a red icon whose reason shows on hover.
# Every file reaches decode_image, which says in a visible message why it cannot be read.
upload = st.file_uploader("Photo: JPEG, PNG, WebP, BMP, GIF or TIFF, up to 25 MB")
if upload is None:
    st.stop()

pipeline = pipeline_or_stop()
try:
    image = decode_image(upload.getvalue())
except ImageError as error:
    st.error(f"Cannot read **{upload.name}**: {error}.")
    st.stop()

settings = DetectorSettings(min_neighbors=min_neighbors, min_face_fraction=min_face / 100)
with st.spinner("Finding faces ..."):
    faces = pipeline.analyze(image, settings)

st.image(draw_faces(image, faces, show_probs=show_probs), channels="BGR", width="stretch")
height, width = image.shape[:2]
if not faces:
    st.info(
        "No face found. The detector looks for frontal faces: "
        "try a larger or more frontal face, or lower the strictness."
    )
else:
    st.success(f"{len(faces)} face{'s' if len(faces) > 1 else ''} found.")

for number, face in enumerate(faces, start=1):
    thumbnail, chart = st.columns([1, 4])
    thumbnail.image(crop_face(image, face.box, pipeline.margin), channels="BGR", caption=f"Face {number}", width=120)
    chart.plotly_chart(
        probability_bars(face.probs, title=f"Face {number}: {face.label} ({face.confidence:.0%})"),
        key=f"face-{number}",
    )

stem = Path(upload.name).stem
results = {"image": upload.name, "width": width, "height": height, "faces": [face.to_dict() for face in faces]}
left, right = st.columns(2)
left.download_button(
    "Download annotated image", encode_png(draw_faces(image, faces)), f"{stem}_emotions.png", "image/png"
)
right.download_button(
    "Download results (JSON)", json.dumps(results, indent=2), f"{stem}_emotions.json", "application/json"
)
