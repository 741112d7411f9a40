"""Photo page: upload photos (or take one with the camera); every face is boxed, numbered, labelled and charted."""

import time

import pandas as pd
import streamlit as st

from fer_core.faces.detection import DetectorSettings
from fer_core.media.export import annotated_zip, photos_csv, photos_json, runner_up
from fer_core.media.images import ImageError
from fer_core.media.photos import AnalysedPhoto, analyse_photo
from fer_core.model.preprocess import crop_face
from fer_core.reporting.charts import probability_bars
from fer_core.reporting.saliency import HOW_TO_READ, overlay
from fer_core.resources import pipeline_or_stop, run_inside_app

run_inside_app()

CHARTS_UP_TO = 4  # faces per photo shown with a chart each; more get a compact table first
GALLERY_COLUMNS = 3
STRICTNESS = (0, 10)
SMALLEST_FACE = (2, 40)  # % of the shorter side

st.title(":material/photo_camera: Photo")
st.write("Upload photos: every face found is boxed, numbered and labelled with its most likely emotion.")

with st.sidebar:
    st.subheader("Face detection")
    min_neighbors = st.slider(
        "Strictness",
        *STRICTNESS,
        DetectorSettings.min_neighbors,
        help="Higher finds fewer false faces but may miss real ones.",
    )
    min_face = st.slider(
        "Smallest face (% of the shorter side)", *SMALLEST_FACE, round(DetectorSettings.min_face_fraction * 100)
    )
    show_probs = st.toggle("Draw probability bars on the image", value=False)

source = st.radio("Source", ["Files", "Camera"], horizontal=True, label_visibility="collapsed")
if source == "Camera":
    shot = st.camera_input("Take a photo")
    uploads = [shot] if shot is not None else []
else:
    # No `type=` filter: Streamlit would refuse other files with only a red icon whose reason shows on hover.
    # Every file reaches decode_image, which says in a visible message why it cannot be read.
    uploads = st.file_uploader(
        "Photos: JPEG, PNG, WebP, BMP, GIF or TIFF, up to 25 MB each", accept_multiple_files=True
    )
if not uploads:
    st.stop()

pipeline = pipeline_or_stop()
settings = DetectorSettings(min_neighbors=min_neighbors, min_face_fraction=min_face / 100)

# Each upload is analysed, drawn and encoded once; reruns (a download, a toggle) reuse it. Kept per
# session, for the current uploads only, so no photo outlives the visit or its removal from the list.
cache: dict = st.session_state.setdefault("photo_cache", {})
keys = [(upload.file_id, settings, show_probs) for upload in uploads]
for stale in set(cache) - set(keys):
    del cache[stale]

# Each photo is shown as soon as it is analysed, in its own place: alone, or in a gallery of several.
status = st.status("Finding faces ...", expanded=True) if any(key not in cache for key in keys) else None
summary = st.empty()
if len(uploads) == 1:
    places = [st.empty()]
else:
    rows = range(0, len(uploads), GALLERY_COLUMNS)
    places = [column.empty() for _ in rows for column in st.columns(GALLERY_COLUMNS)][: len(uploads)]
photos: list[AnalysedPhoto] = []
started = time.monotonic()
for number, (key, upload, place) in enumerate(zip(keys, uploads, places), start=1):
    if key not in cache:
        status.update(label=f"Photo {number} of {len(uploads)}: finding faces in {upload.name} ...")
        try:
            cache[key] = analyse_photo(pipeline, upload.getvalue(), upload.name, settings, show_probs)
        except ImageError as error:
            cache[key] = error
        count = 0 if isinstance(cache[key], ImageError) else len(cache[key].result.faces)
        found = "cannot be read" if isinstance(cache[key], ImageError) else f"{count} face{'s' if count != 1 else ''}"
        status.write(f"Photo {number} of {len(uploads)}, {upload.name}: {found}")
    if isinstance(cache[key], ImageError):
        place.error(f"Cannot read **{upload.name}**: {cache[key]}.")
        continue
    photo = cache[key]
    photos.append(photo)
    # At its own size up to the column's width: a small photo is not blown up into a blur.
    if len(uploads) == 1:
        place.image(photo.annotated, width="content")
    else:
        labels = ", ".join(f"#{n} {f.label}" for n, f in enumerate(photo.result.faces, start=1)) or "no face"
        place.image(photo.annotated, caption=f"{photo.result.name}: {labels}", width="content")
if status is not None:
    done = f"{len(uploads)} photo{'s' if len(uploads) > 1 else ''} analysed in {time.monotonic() - started:.0f} s"
    status.update(label=done, state="complete", expanded=False)
if not photos:
    st.stop()


def no_face_advice() -> str:
    """Why a photo may show no face, and what is left to try: only the sliders not already at their lowest."""
    sliders = [("the strictness", min_neighbors, STRICTNESS[0]), ("the smallest face", min_face, SMALLEST_FACE[0])]
    lower = [name for name, value, lowest in sliders if value > lowest]
    controls = f", or lower {' and '.join(lower)}" if lower else ""
    return f"No face found. The detector looks for frontal faces: try a larger or more frontal face{controls}."


def show_faces(photo: AnalysedPhoto, key: str) -> None:
    """The faces of one photo, numbered as drawn: a chart each, or for many a table and charts on demand."""
    faces = photo.result.faces
    if not faces:
        st.info(no_face_advice())
        return
    st.success(f"{len(faces)} face{'s' if len(faces) > 1 else ''} found.")
    if len(faces) > CHARTS_UP_TO:
        rows = [
            {
                "face": f"#{n}",
                "emotion": f.caption if f.unsure else f.label,  # unsure: "sad or neutral?"
                "confidence": f.confidence,
                "runner-up": runner_up(f),
            }
            for n, f in enumerate(faces, start=1)
        ]
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            column_config={"confidence": st.column_config.NumberColumn(format="percent")},
        )
        if not st.toggle("Show a chart for each face", key=f"charts-{key}"):
            return
    for number, face in enumerate(faces, start=1):
        thumbnail, chart = st.columns([1, 4])
        crop = crop_face(photo.image, face.box, pipeline.margin)
        thumbnail.image(crop, channels="BGR", caption=f"Face #{number}", width=120)
        why = thumbnail.toggle("Why this label?", key=f"why-{key}-{number}")
        chart.plotly_chart(
            probability_bars(
                face.probs,
                title=f"Face #{number}: " + (face.caption if face.unsure else f"{face.label} ({face.confidence:.0%})"),
            ),
            key=f"face-{key}-{number}",
        )
        if why:
            with st.spinner("Hiding one part of the face at a time ..."):
                saliency = photo.explain(pipeline, number)
            thumbnail.image(overlay(crop, saliency), channels="BGR", caption="What it relied on", width=120)
            chart.caption(
                HOW_TO_READ.format(label=saliency.label)
                + f" Cost: {saliency.seconds:.2f} s for this face ({saliency.variants} covered copies classified)."
            )


if len(uploads) == 1:
    show_faces(photos[0], "0")
else:
    found = sum(len(photo.result.faces) for photo in photos)
    summary.success(f"{len(photos)} photos, {found} face{'s' if found != 1 else ''} found.")
    for index, photo in enumerate(photos):
        faces = photo.result.faces
        with st.expander(f"{photo.result.name}: {len(faces)} face{'s' if len(faces) != 1 else ''}"):
            show_faces(photo, str(index))

# Downloads only of what exists: results when a face was found, annotated images when something was drawn.
with_faces = [photo for photo in photos if photo.result.faces]
if with_faces:
    results = [photo.result for photo in photos]
    stem = photos[0].file_name.rsplit("_emotions", 1)[0] if len(photos) == 1 else "photos"
    columns = st.columns(3)
    if len(with_faces) == 1:
        columns[0].download_button(
            "Download annotated image", with_faces[0].annotated, with_faces[0].file_name, with_faces[0].mime
        )
    else:
        archive = annotated_zip([(photo.file_name, photo.annotated) for photo in with_faces])
        columns[0].download_button(
            "Download annotated images (ZIP)", archive, f"{stem}_emotions.zip", "application/zip"
        )
    columns[1].download_button("Download results (CSV)", photos_csv(results), f"{stem}_emotions.csv", "text/csv")
    columns[2].download_button(
        "Download results (JSON)", photos_json(results), f"{stem}_emotions.json", "application/json"
    )
