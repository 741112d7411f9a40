"""Results as files: CSV and JSON for video files, photos and the live timeline, a ZIP of annotated images.

One column layout per kind of result, so the pages, the command line and the tests write the same
files. Probabilities get one column per emotion, in EMOTIONS order.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.media.photos import PhotoResult
from fer_core.media.video import VideoAnalysis
from fer_core.pipeline import Face

VIDEO_COLUMNS = (
    "time_s",
    "frame",
    "face_id",
    "x",
    "y",
    "width",
    "height",
    "label",
    "confidence",
    *EMOTIONS,
    "analyzed",
    "unsure",  # 1: the top probability is under the model's threshold; read the top two
)
PHOTO_COLUMNS = ("image", "face", "x", "y", "width", "height", "label", "confidence", *EMOTIONS, "runner_up", "unsure")
TIMELINE_COLUMNS = ("time_s", "face_id", *EMOTIONS)


def _csv(columns: Sequence[str], rows: Iterable[Sequence]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def _probs(probs: np.ndarray) -> list[float]:
    return [round(float(p), 4) for p in probs]


# ---- video files ----


def video_records(analysis: VideoAnalysis) -> list[dict]:
    """One dict per face per frame, keyed by VIDEO_COLUMNS."""
    records = []
    for row in analysis.rows:
        x, y, w, h = row.box
        values = [round(row.time_s, 3), row.frame, row.face_id, x, y, w, h, row.label, round(row.confidence, 4)]
        records.append(dict(zip(VIDEO_COLUMNS, [*values, *_probs(row.probs), int(row.analyzed), int(row.unsure)])))
    return records


def video_csv(analysis: VideoAnalysis) -> str:
    """One row per face per frame; `analyzed` is 1 on the frames the model ran on, 0 where the box carried over."""
    return _csv(VIDEO_COLUMNS, (record.values() for record in video_records(analysis)))


def video_json(analysis: VideoAnalysis) -> str:
    summaries = [
        {
            "face_id": s.face_id,
            "first_s": round(s.first_s, 3),
            "last_s": round(s.last_s, 3),
            "seconds_on_screen": round(s.seconds_on_screen, 3),
            "dominant": s.dominant,
            "shares": {name: round(share, 4) for name, share in s.shares.items()},
        }
        for s in analysis.summaries()
    ]
    document = {
        "video": analysis.info.to_dict(),
        "frames": analysis.frames,
        "analyzed_every": analysis.every,
        "analyzed_frames": len(analysis.analyzed_frames),
        "faces": summaries,
        "rows": video_records(analysis),
    }
    return json.dumps(document, indent=1)


# ---- photos ----


def runner_up(face: Face) -> str:
    """The second most likely emotion, with its probability."""
    return f"{face.runner_up} {float(np.sort(face.probs)[-2]):.0%}"


def photos_csv(results: Sequence[PhotoResult]) -> str:
    """One row per face of every photo; a photo without a face gets no row."""
    rows = []
    for result in results:
        for number, face in enumerate(result.faces, start=1):
            x, y, w, h = face.box
            values = [result.name, number, x, y, w, h, face.label, round(face.confidence, 4)]
            rows.append([*values, *_probs(face.probs), runner_up(face), int(face.unsure)])
    return _csv(PHOTO_COLUMNS, rows)


def photos_json(results: Sequence[PhotoResult]) -> str:
    return json.dumps([result.to_dict() for result in results], indent=2)


def annotated_zip(files: Sequence[tuple[str, bytes]]) -> bytes:
    """A ZIP of (file name, bytes) pairs; repeated names get a number so none is overwritten."""
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # JPEG and PNG are compressed already
        for name, data in files:
            unique, n = name, 1
            while unique in used:
                n += 1
                unique = f"{Path(name).stem}_{n}{Path(name).suffix}"
            used.add(unique)
            archive.writestr(unique, data)
    return buffer.getvalue()


# ---- the live page ----


def timeline_csv(times: np.ndarray, face_ids: Sequence[int | None], probs: np.ndarray) -> str:
    """The live timeline: one row per analysis (time in seconds from the first), the main face's id and
    probabilities; empty cells where there was no face."""
    start = float(times[0]) if len(times) else 0.0
    rows = []
    for t, face_id, p in zip(times, face_ids, probs):
        finite = face_id is not None and bool(np.isfinite(p).all())
        rows.append([round(float(t) - start, 3), face_id if finite else "", *(_probs(p) if finite else [""] * 7)])
    return _csv(TIMELINE_COLUMNS, rows)
