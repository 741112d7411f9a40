"""Faces followed across the frames of a stream: stable ids, smoothed probabilities, short misses bridged.

Detector-agnostic: a `FaceTracker` is fed the faces found in each analysed frame (boxes and
probabilities, from whatever found them) with the frame's time, and answers which faces are on
screen and under which id. It serves the live webcam page (`fer_core.media.live`) and video files
(`fer_core.media.video`) alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fer_core.faces.detection import Box, iou  # noqa: F401  iou is part of this module's interface
from fer_core.labels import Reading
from fer_core.pipeline import Face


@dataclass
class Track(Reading):
    """One face followed across frames."""

    id: int
    box: Box
    probs: np.ndarray = field(repr=False)  # smoothed, (7,) in EMOTIONS order
    first_seen: float
    last_seen: float
    hits: int = 1  # analyses in which the face was detected
    missed: int = 0  # analyses since it was last detected
    unsure_below: float = 0.0  # the model's threshold, from the face the track started with

    @property
    def face(self) -> Face:
        return Face(self.box, self.probs, self.unsure_below)

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


class FaceTracker:
    """Stable ids, smoothed probabilities and a grace period for the faces of a stream.

    A detection continues the track whose box it overlaps most (IoU). When analyses are far apart
    (a slow machine) a face can move further than its own width between two; so a detection left
    over is then given to the nearest left-over track of about its size within `max_jump` face
    widths. A face the detector loses is dropped once it has been missed for longer than
    `grace_seconds` and in at least two analyses in a row, so that at a slow analysis rate a
    single miss does not turn it into a new face. Not thread-safe: one processing thread calls `update`.
    """

    def __init__(
        self, smoothing: float = 0.6, grace_seconds: float = 0.5, iou_threshold: float = 0.2, max_jump: float = 1.5
    ):
        self.smoothing = smoothing
        self.grace_seconds = grace_seconds
        self.iou_threshold = iou_threshold
        self.max_jump = max_jump
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, faces: list[Face], timestamp: float) -> list[Track]:
        """Match this analysis' faces to the tracks; return the visible tracks."""
        pairs = self._match([face.box for face in faces])
        for t, f in pairs:
            track = self.tracks[t]
            track.box = faces[f].box
            track.probs = self.smoothing * track.probs + (1 - self.smoothing) * np.asarray(faces[f].probs, np.float64)
            track.last_seen = timestamp
            track.hits += 1
            track.missed = 0
        matched_tracks = {t for t, _ in pairs}
        matched_faces = {f for _, f in pairs}
        for t, track in enumerate(self.tracks):
            if t not in matched_tracks:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed < 2 or timestamp - t.last_seen <= self.grace_seconds]
        for f, face in enumerate(faces):
            if f not in matched_faces:
                probs = np.asarray(face.probs, np.float64).copy()
                track = Track(self._next_id, face.box, probs, timestamp, timestamp, unsure_below=face.unsure_below)
                self.tracks.append(track)
                self._next_id += 1
        return self.visible()

    def _match(self, boxes: list[Box]) -> list[tuple[int, int]]:
        """(track index, box index) pairs, greedily: the most overlapping first, then the nearest."""
        pairs: list[tuple[int, int]] = []

        def take(candidates) -> None:  # (score, track, box), higher score first
            for _, t, f in sorted(candidates, reverse=True):
                if all(t != pt and f != pf for pt, pf in pairs):
                    pairs.append((t, f))

        indices = [(t, f) for t in range(len(self.tracks)) for f in range(len(boxes))]
        overlapping = [(iou(self.tracks[t].box, boxes[f]), t, f) for t, f in indices]
        take(c for c in overlapping if c[0] >= self.iou_threshold)
        nearby = []
        for t, f in indices:
            (tx, ty, tw, th), (fx, fy, fw, fh) = self.tracks[t].box, boxes[f]
            jump = np.hypot(tx + tw / 2 - fx - fw / 2, ty + th / 2 - fy - fh / 2) / max(tw, fw)
            if jump <= self.max_jump and max(tw, fw) <= 1.5 * min(tw, fw):
                nearby.append((-jump, t, f))
        take(nearby)
        return pairs

    def visible(self) -> list[Track]:
        """Tracks to draw: those detected just now, and confirmed ones (seen twice or more) the detector
        lost for less than the grace period. A one-off false detection is thus never left hanging."""
        return [track for track in self.tracks if track.missed == 0 or track.hits >= 2]

    def main(self) -> Track | None:
        """The face the chart follows: the oldest of the visible faces at least half as large as the
        largest, so the chart neither jumps to a newcomer nor sticks to a small background face."""
        visible = self.visible()
        if not visible:
            return None
        largest = max(track.area for track in visible)
        return min((track for track in visible if 2 * track.area >= largest), key=lambda track: track.id)
