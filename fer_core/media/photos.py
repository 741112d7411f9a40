"""Photos as the photo page and the exports see them: read, analysed, drawn with numbered faces, encoded once.

`analyse_photo` turns one uploaded file into a `PhotoResult` (its faces numbered from 1 in reading
order, row by row and left to right, the same numbers drawn and listed) and the annotated image,
encoded in the upload's own kind: a JPEG comes back as a JPEG (a 12 MP photo as a PNG would be
several times larger), anything else as a PNG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_core.faces.detection import DetectorSettings
from fer_core.media.drawing import draw_faces
from fer_core.media.images import decode_image, encode_jpeg, encode_png, image_format
from fer_core.model.preprocess import crop_face
from fer_core.pipeline import EmotionPipeline, Face
from fer_core.reporting.saliency import Saliency, occlusion_map


@dataclass
class PhotoResult:
    """One analysed photo: its name, size and faces (numbered from 1 in list order, as drawn)."""

    name: str
    width: int
    height: int
    faces: list[Face]

    def to_dict(self) -> dict:
        faces = [{"face": number, **face.to_dict()} for number, face in enumerate(self.faces, start=1)]
        return {"image": self.name, "width": self.width, "height": self.height, "faces": faces}


@dataclass
class AnalysedPhoto:
    result: PhotoResult
    image: np.ndarray  # BGR as analysed (upright, scaled down to images.MAX_SIDE)
    annotated: bytes  # encoded: JPEG for a JPEG upload, else PNG
    file_name: str  # "<stem>_emotions.jpg" or ".png"
    saliency: dict[int, Saliency] = field(default_factory=dict)  # face number -> its map, made on demand

    def explain(self, pipeline: EmotionPipeline, number: int) -> Saliency:
        """Why face `number` (from 1) got its label: its occlusion map, computed once."""
        if number not in self.saliency:
            face = self.result.faces[number - 1]
            self.saliency[number] = occlusion_map(pipeline.classifier, crop_face(self.image, face.box, pipeline.margin))
        return self.saliency[number]

    @property
    def mime(self) -> str:
        return "image/jpeg" if self.file_name.endswith(".jpg") else "image/png"


def reading_order(faces: list[Face]) -> list[Face]:
    """Faces as a reader meets them: row by row from the top, left to right within a row. A face joins
    the row above when its centre lies within half that row's first face's height of it."""
    rows: list[list[Face]] = []
    for face in sorted(faces, key=lambda f: f.box[1] + f.box[3] / 2):
        x, y, w, h = face.box
        if rows:
            first = rows[-1][0].box
            if abs((y + h / 2) - (first[1] + first[3] / 2)) <= first[3] / 2:
                rows[-1].append(face)
                continue
        rows.append([face])
    return [face for row in rows for face in sorted(row, key=lambda f: f.box[0])]


def numbered_captions(faces: list[Face]) -> list[str]:
    return [f"#{number} {face.caption}" for number, face in enumerate(faces, start=1)]


def analyse_photo(
    pipeline: EmotionPipeline,
    data: bytes,
    name: str,
    settings: DetectorSettings | None = None,
    show_probs: bool = False,
) -> AnalysedPhoto:
    """Raises ImageError for a file that is not a readable image."""
    image = decode_image(data)
    faces = reading_order(pipeline.analyze(image, settings))
    drawn = draw_faces(image, faces, numbered_captions(faces), show_probs=show_probs)
    jpeg = image_format(data) == "JPEG"
    encoded = encode_jpeg(drawn) if jpeg else encode_png(drawn)
    file_name = f"{Path(name).stem}_emotions{'.jpg' if jpeg else '.png'}"
    height, width = image.shape[:2]
    return AnalysedPhoto(PhotoResult(name, width, height, faces), image, encoded, file_name)
