"""Finding faces: OpenCV's Haar cascades propose, a small network checks every box.

1. Propose: the frontal-face cascades `default` and `alt2` (each finds faces the other misses) and the
   profile cascade (heads turned past the frontal ones' reach), on the image and on its mirror image (the
   windows fall elsewhere, so more faces are found; the profile cascade finds heads turned one way, and
   those turned the other on the mirror image), `alt2` also on copies turned 15 and 30 degrees either way
   (the cascades find upright faces only, and heads tilt), on a copy of the image rescaled so that the
   smallest face asked for (`min_face_fraction` of the shorter side) is `min_window` pixels (the cascades
   find far more faces well above their 24 px window), contrast-equalised locally (CLAHE: a global
   histogram stretch distorts a face on a plain wall), with `min_neighbors` low so that small, tightly cut
   and half-turned faces are not lost. (Video frames: `alt2` first, then `default` on the copy with the
   faces found filled in: the cascades spend most of their time on the windows near a face.)
2. Close-ups: the largest scales are searched again on a copy shrunk and padded with its own edges,
   so a face that fills the frame or is cut by its edge (forehead, chin) is still found (on video
   frames, only when the whole frame's search found no face).
3. Check: a box reaches the user only if the face verifier (`face_verifier.py`, small networks
   trained on the cascades' boxes on FER2013 faces and on face-free pictures) scores it as a face,
   counting in how many cascade windows found it (a lone window needs a stronger word); a profile box
   needs a little more (the verifier learned from the frontal cascades' boxes). A box scored a little under
   the threshold gets a second look (`second_look.py`, the live emotion model's layers turned into a
   face-or-not score) and passes if that says face (photos only: video frames find a face in the next).
4. Merge: overlapping boxes of one face become one, the best-checked kept; of a box and a smaller one
   inside it (a whole head seen as a face around the face, or part of a face seen as a face inside
   it), the less well checked is dropped. The face kept gets the median place and size of all the boxes
   that overlap it, so that the searches' errors of place cancel out.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from fer_core.faces.second_look import SECOND_LOOK_PATH, SecondLook
from fer_core.faces.verifier import VERIFIER_PATH, FaceVerifier
from fer_core.paths import shown_path

Box = tuple[int, int, int, int]  # x, y, width, height in image pixels; may reach past the edge for a cut face


@dataclass(frozen=True)
class DetectorSettings:
    scale_factor: float = 1.05
    # Raw cascade hits a box needs besides its own; kept low because every box is checked after.
    min_neighbors: int = 0
    # Smallest face searched for, as a fraction of the image's shorter side.
    min_face_fraction: float = 0.05
    # The image is rescaled so that the smallest face searched for is this many pixels (the cascade's
    # window is 24; faces barely that size are often missed, so small faces are searched upscaled).
    min_window: int = 40
    # ... but the rescaled copy's longer side is at most this (a cap on the time; it does not bind
    # at the default 5% for photos up to 16:9; live video lowers it).
    max_side: int = 1600
    # The cascades that propose boxes (each finds faces the others miss; `CASCADE_FILES` names them): the
    # profile cascade finds heads turned too far for the frontal ones (on the mirror image, those turned the
    # other way): up to 0.7 more faces in 100 on the benchmark's frames, for a quarter more of the photo search's time.
    cascades: tuple[str, ...] = ("default", "alt2", "profile")
    # Also run each cascade on the mirror image: its windows fall elsewhere, and it finds faces missed
    # at the edge of detectability (about 2 in 100 on generated frames) at twice the search's time.
    mirror: bool = True
    # Also run the cascades on copies turned by these angles (degrees): they find only upright faces (to
    # about 15 degrees), and heads in photos tilt; a turned face found gets the upright box around its centre.
    # The 15-degree copies find faces at the edge of detectability upright (up to 2 more in 100 on the
    # benchmark's frames, at a third more time).
    tilts: tuple[float, ...] = (30.0, -30.0, 15.0, -15.0)
    # ... with this cascade only (the one that finds the most turned faces; both would cost twice the time).
    tilt_cascades: tuple[str, ...] = ("alt2",)
    # Search close-ups also when the frame's search found a face (a face that fills the frame leaves little
    # room for another; video frames skip it then, for the time).
    close_ups_beside_faces: bool = True
    # Run the cascades one at a time, in the order given, each outside the faces found before it: the
    # cascades spend most of their time on the windows near a face, and the first finds most faces.
    cascades_in_turn: bool = False
    # Least score for a box to count as a face: the verifier's log-odds plus the log of the number of
    # cascade windows behind the box. Higher rejects more (and misses more).
    min_face_score: float = 5.5
    # ... and this much more for a box of the profile cascade: the verifier learned from the frontal cascades'
    # boxes only (without the margin, profile boxes put a phantom in 2% of the benchmark's garage frames).
    profile_margin: float = 0.5
    # Boxes scored under `min_face_score` but at least this get a second look (`second_look.py`) and pass if
    # its log-odds are at least `second_look_min` (None: no second look). About two more faces in 100 on the
    # benchmark's frames, and no phantom more on any face-free set (`docs/detection.md`, *The second look
    # trained on*).
    second_look_from: float | None = 2.0
    second_look_min: float = 10.0


def video_settings(min_neighbors: int, min_face_fraction: float, max_side: int) -> DetectorSettings:
    """The search of a video frame (the live page, video files): from the cascades' own 24 px window, with
    a coarse step between face sizes, upright and unmirrored, `alt2` first and `default` outside the faces
    `alt2` found, close-ups only in a frame where no face was found; a fraction of a photo's search time,
    and a face missed in one frame is found in the next. (`default` must follow: with `alt2` alone, a face
    it misses leaves the close-ups to find its whole head as a face, a second face on one person; and it
    must search all but the faces found, or a face `alt2` misses beside one it finds is lost.)"""
    return DetectorSettings(
        scale_factor=1.2,
        min_neighbors=min_neighbors,
        min_face_fraction=min_face_fraction,
        min_window=24,
        max_side=max_side,
        cascades=("alt2", "default"),
        mirror=False,
        tilts=(),
        close_ups_beside_faces=False,
        cascades_in_turn=True,
        second_look_from=None,
    )


class DetectorError(RuntimeError):
    """The Haar cascade or the face verifier file is missing (e.g. opencv-python-headless 5.x ships no cascades)."""


# The cascades by the names `DetectorSettings.cascades` gives them: OpenCV's files.
CASCADE_FILES = {
    "default": "haarcascade_frontalface_default.xml",
    "alt2": "haarcascade_frontalface_alt2.xml",
    "profile": "haarcascade_profileface.xml",
}


def _cascade(name: str) -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + CASCADE_FILES[name]
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise DetectorError(f"cannot load the Haar cascade {path}; install opencv-python-headless 4.x")
    return cascade


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    overlap_w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    overlap_h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = overlap_w * overlap_h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _same_face(a: Box, b: Box) -> bool:
    """Two boxes of one face: overlapping well, or one's centre inside the other at a similar size."""
    if iou(a, b) > 0.3:
        return True
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    similar = max(aw, bw) <= 2 * min(aw, bw)
    return similar and (bx <= ax + aw / 2 <= bx + bw and by <= ay + ah / 2 <= by + bh)


def _inside(small: Box, big: Box) -> bool:
    """`small` is under half `big`'s size and centred inside it."""
    (sx, sy, sw, sh), (bx, by, bw, bh) = small, big
    return 2 * sw < bw and bx <= sx + sw / 2 <= bx + bw and by <= sy + sh / 2 <= by + bh


def _faces(scored: list[tuple[float, Box]], min_score: float) -> list[Box]:
    """The boxes that are faces, largest first, of boxes with their scores: each at least `min_score`, one
    box per face (the best scored of those overlapping), and of a box and a smaller one centred inside it,
    the better scored only (a whole head seen as a face around the face, or an eye and cheek seen as a
    face inside it); each face given the median place and size of all the boxes on it (`_median_box`)."""
    kept: list[tuple[float, Box]] = []
    for score, box in sorted(scored, key=lambda pair: -pair[0]):
        if score >= min_score and not any(_same_face(box, other) for _, other in kept):
            kept.append((score, box))
    faces = [
        box
        for score, box in kept
        if not any((_inside(other, box) or _inside(box, other)) and rival > score for rival, other in kept)
    ]
    boxes = [box for _, box in scored]
    return sorted((_median_box(face, boxes) for face in faces), key=lambda b: b[2] * b[3], reverse=True)


def _median_box(face: Box, boxes: list[Box]) -> Box:
    """`face` moved to the median centre and size of the boxes that overlap it (itself among them), however
    they scored: each search (cascade, view, turned copy, scale) puts its box a little off the face in its
    own way, and their median lies nearer the face than the best-scored box alone."""
    near = np.array([box for box in boxes if iou(face, box) > 0.3], np.float64)
    cx, cy = np.median(near[:, :2] + near[:, 2:] / 2, axis=0)
    w, h = np.median(near[:, 2:], axis=0)
    return int(round(cx - w / 2)), int(round(cy - h / 2)), int(round(w)), int(round(h))


@dataclass(frozen=True)
class Proposal:
    box: Box
    windows: int  # cascade windows grouped into this box
    cascade: str  # the name of the cascade that found it


def _turned(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """`image` turned by `degrees` (counter-clockwise) on a canvas that holds all of it, its corners
    filled in from its edges, and the 2x3 matrix that takes the turned copy's points back to `image`."""
    height, width = image.shape
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    size = (int(height * sin + width * cos), int(height * cos + width * sin))
    turn[:, 2] += (size[0] - width) / 2, (size[1] - height) / 2
    turned = cv2.warpAffine(image, turn, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return turned, cv2.invertAffineTransform(turn)


def _boxes_back(boxes: np.ndarray, back: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boxes found on a view of an image (itself, its mirror image, a turned copy), in the image: upright
    boxes of the same size around their centres taken back by the 2x3 matrix `back`; those centred outside
    the image of `size` (width, height), in a turned copy's filled-in corners, go."""
    centres = np.c_[boxes[:, :2] + boxes[:, 2:] / 2, np.ones(len(boxes))] @ back.T
    inside = (centres >= 0).all(1) & (centres[:, 0] < size[0]) & (centres[:, 1] < size[1])
    upright = np.c_[np.round(centres - boxes[:, 2:] / 2), boxes[:, 2:]].astype(boxes.dtype)
    return upright[inside]


def _resized(image: np.ndarray, scale: float) -> np.ndarray:
    """`image` rescaled by `scale`: enlarged bilinearly; shrunk by averaging pixel areas, by a whole factor
    first (OpenCV's fast path, about a third of the time; the last rows and columns that do not fill a
    block are dropped), then by what is left of `scale`."""
    if scale >= 1:
        return cv2.resize(image, _size(image, scale), interpolation=cv2.INTER_LINEAR)
    factor = int(1 / scale + 1e-9)
    if factor >= 2:
        height, width = image.shape[0] // factor, image.shape[1] // factor
        image = cv2.resize(image[: height * factor, : width * factor], (width, height), interpolation=cv2.INTER_AREA)
        scale *= factor
    return image if scale > 1 - 1e-9 else cv2.resize(image, _size(image, scale), interpolation=cv2.INTER_AREA)


def _size(image: np.ndarray, scale: float) -> tuple[int, int]:
    return max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))


@dataclass(frozen=True)
class SearchCopy:
    """An image made ready for the cascades."""

    small: np.ndarray  # rescaled so that the smallest face asked for is the settings' `min_window`, equalised
    scale: float  # of `small` to the image
    source: np.ndarray  # the smaller of the image and its rescaled copy, not equalised: close-ups are cut from it
    source_scale: float


class HaarProposals:
    """Boxes that may be faces: OpenCV's Haar frontal-face cascades (`DetectorSettings.cascades`, which miss
    different faces) run loose on a contrast-equalised copy of the image, plus a close-up pass.

    OpenCV's cascades and CLAHE are not safe to call from two threads at once, hence the lock.
    """

    def __init__(self):
        names = {*DetectorSettings.cascades, *DetectorSettings.tilt_cascades}
        self._cascades = {name: _cascade(name) for name in names}
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self._lock = threading.Lock()

    def propose(self, gray: np.ndarray, settings: DetectorSettings, close_ups: bool = True) -> list[Proposal]:
        """The boxes of every search of the image: the whole image's, and the close-ups' when `close_ups`."""
        copy = self.copy(gray, settings)
        if copy is None:
            return []
        return self.whole(copy, settings) + (self.close_ups(copy, settings) if close_ups else [])

    def copy(self, gray: np.ndarray, settings: DetectorSettings) -> SearchCopy | None:
        """The copy of `gray` that its searches run on; None for an image too small to hold a face."""
        if min(gray.shape) < 24:
            return None
        smallest_face = max(1.0, settings.min_face_fraction * min(gray.shape))
        scale = min(settings.min_window / smallest_face, settings.max_side / max(gray.shape))
        resized = _resized(gray, scale)
        # The close-ups are cut from the smaller of the image and its rescaled copy (the same pixels, less work).
        source, source_scale = (resized, scale) if scale < 1 else (gray, 1.0)
        return SearchCopy(self._equalised(resized), scale, source, source_scale)

    def whole(
        self, copy: SearchCopy, settings: DetectorSettings, cascades: tuple[str, ...] = (), outside: Sequence[Box] = ()
    ) -> list[Proposal]:
        """The boxes of the search of the whole image, from the smallest face asked for, with `cascades`
        (default: the settings'), where they lie `outside` the given boxes (image coordinates): those are
        filled with their own mean grey, on which the cascades' windows stop at once."""
        small = copy.small
        if outside:
            small = small.copy()
            for x, y, w, h in outside:
                x0, y0 = max(0, round(x * copy.scale)), max(0, round(y * copy.scale))
                x1, y1 = round((x + w) * copy.scale), round((y + h) * copy.scale)
                if x1 > x0 and y1 > y0:
                    small[y0:y1, x0:x1] = small[y0:y1, x0:x1].mean()
        return self._scan(
            small, copy.scale, settings.min_window, replace(settings, cascades=cascades or settings.cascades)
        )

    def close_ups(self, copy: SearchCopy, settings: DetectorSettings) -> list[Proposal]:
        """The boxes of faces filling the picture, or cut by its edge at forehead or chin: searched on a copy
        shrunk so that its shorter side is 40 px and padded by a quarter of that on every side, where the
        cascade's 24 px window is a face of 60% of the picture's shorter side, and larger ones up from it."""
        if min(copy.source.shape) < 24:
            return []
        scale = 40 / min(copy.source.shape)
        padded = cv2.copyMakeBorder(_resized(copy.source, scale), 10, 10, 10, 10, cv2.BORDER_REPLICATE)
        return self._scan(self._equalised(padded), copy.source_scale * scale, 24, replace(settings, tilts=()), pad=10)

    def _equalised(self, image: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._clahe.apply(image)

    def _scan(
        self, small: np.ndarray, scale: float, min_side: int, settings: DetectorSettings, pad: int = 0
    ) -> list[Proposal]:
        """The cascades' boxes on `small`, an image rescaled by `scale` and bordered by `pad` pixels, in the
        image's coordinates."""
        if min(small.shape) < min_side:
            return []
        size = (small.shape[1], small.shape[0])
        # The cascade to run on each view of the image, and the matrix that takes the view's points back.
        views = [(small, np.array([[1.0, 0, 0], [0, 1, 0]]))]
        if settings.mirror:
            views.append((np.ascontiguousarray(small[:, ::-1]), np.array([[-1.0, 0, size[0]], [0, 1, 0]])))
        searches = [(name, image, back) for name in settings.cascades for image, back in views]
        for degrees in settings.tilts:
            turned, back = _turned(small, degrees)
            searches += [(name, turned, back) for name in settings.tilt_cascades]
        found: list[Proposal] = []
        for name, image, back in searches:
            with self._lock:
                raw = self._cascades[name].detectMultiScale(
                    image, settings.scale_factor, 0, minSize=(min_side, min_side)
                )
            if len(raw) == 0:  # most searches of a frame find nothing: no need to take boxes back
                continue
            raw = _boxes_back(np.asarray(raw).reshape(-1, 4), back, size)
            if len(raw) == 0:
                continue
            # OpenCV's grouping, which also keeps lone windows when min_neighbors is 0: every window is
            # listed twice, so a cluster of n windows has 2n members and needs more than 2 x min_neighbors.
            boxes, counts = cv2.groupRectangles([list(box) for box in raw] * 2, 2 * settings.min_neighbors + 1, 0.2)
            found += [
                Proposal((int(round((x - pad) / scale)), int(round((y - pad) / scale)),
                          int(round(w / scale)), int(round(h / scale))), int(count) // 2, name)
                for (x, y, w, h), count in zip(boxes, np.ravel(counts))
            ]  # fmt: skip
        return found


class FaceDetector:
    """Haar cascade face detection on any image size, with every box checked by the face verifier.

    One detector is shared by all callers (photo page sessions, the live callback).
    """

    def __init__(self, settings: DetectorSettings = DetectorSettings()):
        self.settings = settings
        self.proposals = HaarProposals()
        for path in (VERIFIER_PATH, SECOND_LOOK_PATH):
            if not path.is_file():
                raise DetectorError(f"{shown_path(path)} not found; restore it with `git checkout -- models/`")
        self.verifier = FaceVerifier.load(VERIFIER_PATH)
        self.second_look = SecondLook.load(SECOND_LOOK_PATH)

    def detect(self, image: np.ndarray, settings: DetectorSettings | None = None) -> list[Box]:
        """Boxes of the faces in `image` (BGR or grayscale), largest first."""
        return self._detect(image, settings or self.settings, close_ups=True)

    def _detect(self, image: np.ndarray, settings: DetectorSettings, close_ups: bool) -> list[Box]:
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        copy = self.proposals.copy(gray, settings)
        if copy is None:
            return []
        if close_ups and settings.close_ups_beside_faces:
            proposals = self.proposals.whole(copy, settings) + self.proposals.close_ups(copy, settings)
            return _faces(self._scored(gray, settings, proposals), settings.min_face_score)
        if settings.cascades_in_turn:  # each cascade searches outside the faces found before it ...
            scored: list[tuple[float, Box]] = []
            faces, settled = [], []
            for name in settings.cascades:
                scored += self._scored(gray, settings, self.proposals.whole(copy, settings, (name,), outside=settled))
                faces = _faces(scored, settings.min_face_score)
                # ... but where a face was chosen over a box in or around it (a whole head, or part of the
                # face), the next cascade searches there too: its box of the face may be the better checked.
                passing = [box for score, box in scored if score >= settings.min_face_score]
                settled = [face for face in faces if not any(_inside(b, face) or _inside(face, b) for b in passing)]
        else:
            faces = _faces(self._scored(gray, settings, self.proposals.whole(copy, settings)), settings.min_face_score)
        if faces or not close_ups:
            return faces
        return _faces(self._scored(gray, settings, self.proposals.close_ups(copy, settings)), settings.min_face_score)

    def _scored(
        self, gray: np.ndarray, settings: DetectorSettings, proposals: list[Proposal]
    ) -> list[tuple[float, Box]]:
        """Each proposal's box with its score: the verifier's log-odds plus the log of the number of cascade
        windows behind it (a face is found by many windows at neighbouring places and sizes; a lone window
        needs the verifier's stronger word), less `profile_margin` for a box of the profile cascade; a box
        scored a little under the threshold that the second look takes for a face is given the threshold."""
        boxes = [p.box for p in proposals]
        windows = np.log([p.windows for p in proposals])
        profile = np.array([p.cascade == "profile" for p in proposals], np.float64)
        scores = self.verifier.check(gray, boxes) + windows - settings.profile_margin * profile
        if settings.second_look_from is not None:
            near = np.flatnonzero((scores >= settings.second_look_from) & (scores < settings.min_face_score))
            if len(near):
                looks = self.second_look.check(gray, [boxes[i] for i in near])
                scores[near[looks >= settings.second_look_min]] = settings.min_face_score
        return list(zip(scores, boxes))

    def detect_near(self, image: np.ndarray, boxes: list[Box], settings: DetectorSettings | None = None) -> list[Box]:
        """Faces near `boxes` only (a video's faces of the previous analysis): each box's region, twice its
        size, is searched for a face from half to twice the box's size, with the same checks as `detect`
        (the face fills half the region, so no close-up pass is needed), one cascade at a time (a region
        holds one face: the second cascade searches it outside the face the first found).
        Far cheaper than a whole frame; a face that appears elsewhere needs a call of `detect`."""
        settings = replace(settings or self.settings, min_face_fraction=0.25, max_side=10_000, cascades_in_turn=True)
        height, width = image.shape[:2]
        found: list[Box] = []
        for x, y, w, h in boxes:
            x0, y0 = max(0, x - w // 2), max(0, y - h // 2)
            x1, y1 = min(width, x + w + w // 2), min(height, y + h + h // 2)
            if x1 - x0 < 24 or y1 - y0 < 24:
                continue
            for bx, by, bw, bh in self._detect(image[y0:y1, x0:x1], settings, close_ups=False):
                box = (bx + x0, by + y0, bw, bh)
                if not any(_same_face(box, other) for other in found):
                    found.append(box)
        return sorted(found, key=lambda b: b[2] * b[3], reverse=True)
