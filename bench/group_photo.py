"""A group photo composed from scikit-image's pictures, through the pipeline: docs/group_photo.jpg.

    python bench/group_photo.py

Six copies of the astronaut's head (from 330 px down to 110 px, her face itself down to about 50 px:
5.6% of the photo's 900 px height) on a brick wall above a coffee cup, 1600x900. Prints the faces
found and writes the annotated photo as the photo page draws it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_core.media.drawing import draw_faces  # noqa: E402
from fer_core.pipeline import EmotionPipeline  # noqa: E402

PLACES = [(60, 80, 330), (450, 300, 200), (750, 120, 140), (1000, 420, 100), (1200, 150, 260), (1430, 590, 110)]


def group_photo() -> np.ndarray:
    from skimage import data

    head = np.ascontiguousarray(data.astronaut()[20:230, 120:330, ::-1])
    photo = cv2.resize(np.ascontiguousarray(data.coffee()[:, :, ::-1]), (1600, 900))
    photo[:450] = cv2.resize(cv2.cvtColor(data.brick(), cv2.COLOR_GRAY2BGR), (1600, 450))
    for x, y, side in PLACES:
        photo[y : y + side, x : x + side] = cv2.resize(head, (side, side), interpolation=cv2.INTER_AREA)
    return photo


def main() -> None:
    photo = group_photo()
    faces = EmotionPipeline.load().analyze(photo)
    print(f"{len(faces)} faces found of {len(PLACES)} placed:")
    for face in faces:
        print(f"  box {face.box}: {face.label} {face.confidence:.0%}")
    out = cv2.resize(draw_faces(photo, faces), (1200, 675), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(ROOT / "docs" / "group_photo.jpg"), out, [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    main()
