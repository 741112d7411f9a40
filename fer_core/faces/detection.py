"""Finding faces: BlazeFace in photos, OpenCV's Haar cascades in video frames, a small network checking boxes.

Photos (`DetectorSettings.search == "photo"`, the default): BlazeFace (`blazeface.py`) looks at the image
in a few views, each a size at which the faces it is meant for are the 32-128 px that the network knows:

- close-ups: the whole image letterboxed into 128 x 128 with a border of a quarter of its longer side, where
  a face that fills the picture, or is cut by its edge, is a face of the size the network knows best;
- the whole image with its shorter side at 128 and 256 px (faces from about an eighth of the shorter side
  up), and on a larger image also at 512 px (faces from about a sixteenth): the views grow with the image,
  so a 640x480 frame costs two small views and a group photo gets the view its small faces need.

A close-up candidate is a face at `closeup_logit`; a whole-image candidate at `mid_logit`, or from
`mid_floor_logit` up when the face verifier (`verifier.py`) also scores it a face (more surely in the 512 px
view). BlazeFace's box is grown to the square a FER2013 face is framed in and moved up a little, and
its eye keypoints come with it. A face kept on BlazeFace's word alone is read by the verifier last, and
goes only where it is surely no face (`verifier_veto`).

Video frames (`video_settings`: the live page, video files): the frontal-face Haar cascades `alt2`, then
`default` outside the faces `alt2` found, from the cascades' 24 px window up with a coarse step, every box
checked by the face verifier (its log-odds plus the log of the cascade windows behind the box); a search of
close-ups only in a frame where no face was found; between full searches, only the regions of the faces
already found (`detect_near`). Overlapping boxes of one face become one, and the face kept gets the median
place and size of the boxes on it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from fer_core.faces.blazeface import BLAZEFACE_PATH, BlazeFace, Candidate
from fer_core.faces.verifier import VERIFIER_PATH, FaceVerifier
from fer_core.paths import shown_path

Box = tuple[int, int, int, int]  # x, y, width, height in image pixels; may reach past the edge for a cut face
Point = tuple[float, float]


@dataclass(frozen=True)
class DetectorSettings:
    # "photo": BlazeFace's views; "video": the Haar cascades (see `video_settings`).
    search: str = "photo"
    # Strictness, 0 up: each step raises the photo search's thresholds by a quarter logit; the Haar search's
    # least number of raw cascade hits a box needs besides its own.
    min_neighbors: int = 0
    # Smallest face searched for, as a fraction of the image's shorter side.
    min_face_fraction: float = 0.05
    # Photo search: the shorter side of each whole-image view (multiples of 16): 128 finds faces from a quarter
    # of the shorter side up, 256 from an eighth, 512 from a sixteenth. A view larger than `always_view` runs
    # only on an image whose own shorter side is at least as large (a group photo, not a 640x480 frame).
    view_short_sides: tuple[int, ...] = (128, 256, 512)
    always_view: int = 256
    # ... the close-up view's border, as a fraction of the image's longer side on each side.
    closeup_pad: float = 0.25
    # ... the least logit of a close-up candidate, and of a whole-image candidate on its own ...
    closeup_logit: float = 0.5
    mid_logit: float = 1.5
    # ... or from this logit up with the verifier's log-odds at least `verifier_for_blaze`.
    mid_floor_logit: float = -1.5
    verifier_for_blaze: float = 4.0
    # ... in the views larger than `always_view` (a large image's small faces), the verifier's log-odds from
    # this up: the many weak candidates of a large view fool it more often (at 4.0, a phantom on the astronaut
    # photo). On 150 generated frames, 44 of 111 faces under 8.5% of the shorter side are found at 6.0, 23
    # with no candidate of those views rescued, and 54 real face-free photographs get no phantom more.
    verifier_for_large_view: float = 6.0
    # ... and a face kept on BlazeFace's word alone (a sure candidate) goes when the verifier reads its box with
    # log-odds under this: a sure phantom on a texture or a picture, which the verifier reads as no face at -8.
    # Real faces read -4.1 at least (the 696 found wild-dev close-ups); generated face-free frames with a phantom
    # went from 11 to 6 of 1,200 (tune seeds 3-6, holdout seeds 1-2).
    verifier_veto: float = -6.0
    # ... the face square: BlazeFace's box side times `box_scale`, its centre moved up by `box_up` x the side.
    # At 1.15 a FER2013 face found in a padded copy gets the crop it came in (tests/test_preprocess.py), and the
    # photo model's occlusion map stays on the face (tests/test_saliency.py).
    box_scale: float = 1.15
    box_up: float = 0.08
    # Haar search: the step between window sizes, the smallest window (px) the smallest face is rescaled to,
    # a cap on the rescaled copy's longer side, the cascades in the order they search.
    scale_factor: float = 1.2
    min_window: int = 24
    max_side: int = 1600
    cascades: tuple[str, ...] = ("alt2", "default")
    # Haar search: a face's box is the cascade's grown by this about its centre: the live model, which video
    # frames run, reads real faces best at this framing (docs/real_faces.md).
    haar_box_scale: float = 1.25
    # Haar search: least score for a box to count as a face, the verifier's log-odds plus the log of the
    # number of cascade windows behind the box. Higher rejects more (and misses more).
    min_face_score: float = 5.5


def video_settings(min_neighbors: int, min_face_fraction: float, max_side: int) -> DetectorSettings:
    """The Haar search of a video frame (the live page, video files)."""
    return DetectorSettings(
        search="video", min_neighbors=min_neighbors, min_face_fraction=min_face_fraction, max_side=max_side
    )


@dataclass(frozen=True)
class DetectedFace:
    """One face: its box, and the centres of its eyes (left in the image first) where BlazeFace found it."""

    box: Box
    eyes: tuple[Point, Point] | None = None


class DetectorError(RuntimeError):
    """A detector file is missing or unreadable (e.g. opencv-python-headless 5.x ships no Haar cascades)."""


# The cascades by the names `DetectorSettings.cascades` gives them: OpenCV's files.
CASCADE_FILES = {"default": "haarcascade_frontalface_default.xml", "alt2": "haarcascade_frontalface_alt2.xml"}


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


@dataclass(frozen=True)
class SearchCopy:
    """An image made ready for the cascades."""

    small: np.ndarray  # rescaled so that the smallest face asked for is the settings' `min_window`, equalised
    scale: float  # of `small` to the image
    source: np.ndarray  # the smaller of the image and its rescaled copy, not equalised: close-ups are cut from it
    source_scale: float


class HaarProposals:
    """Boxes that may be faces: OpenCV's Haar frontal-face cascades run loose on a contrast-equalised copy
    of the image (CLAHE: a global stretch distorts a face on a plain wall), plus a close-up pass.

    OpenCV's cascades and CLAHE are not safe to call from two threads at once, hence the lock.
    """

    def __init__(self):
        self._cascades = {name: _cascade(name) for name in CASCADE_FILES}
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self._lock = threading.Lock()

    def propose(self, gray: np.ndarray, settings: DetectorSettings) -> list[Proposal]:
        """Every box of every search of the image: each cascade's of the whole image, and the close-ups'."""
        copy = self.copy(gray, settings)
        if copy is None:
            return []
        wholes = [p for name in settings.cascades for p in self.whole(copy, settings, name)]
        return wholes + self.close_ups(copy, settings)

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

    def whole(self, copy: SearchCopy, settings: DetectorSettings, cascade: str, outside: Sequence[Box] = ()):
        """The boxes of `cascade`'s search of the whole image, from the smallest face asked for, where they
        lie `outside` the given boxes (image coordinates): those are filled with their own mean grey, on
        which the cascade's windows stop at once."""
        small = copy.small
        if outside:
            small = small.copy()
            for x, y, w, h in outside:
                x0, y0 = max(0, round(x * copy.scale)), max(0, round(y * copy.scale))
                x1, y1 = round((x + w) * copy.scale), round((y + h) * copy.scale)
                if x1 > x0 and y1 > y0:
                    small[y0:y1, x0:x1] = small[y0:y1, x0:x1].mean()
        return self._scan(small, copy.scale, settings.min_window, settings, (cascade,))

    def close_ups(self, copy: SearchCopy, settings: DetectorSettings) -> list[Proposal]:
        """The boxes of faces filling the picture, or cut by its edge at forehead or chin: searched on a copy
        shrunk so that its shorter side is 40 px and padded by a quarter of that on every side, where the
        cascade's 24 px window is a face of 60% of the picture's shorter side, and larger ones up from it."""
        if min(copy.source.shape) < 24:
            return []
        scale = 40 / min(copy.source.shape)
        padded = cv2.copyMakeBorder(_resized(copy.source, scale), 10, 10, 10, 10, cv2.BORDER_REPLICATE)
        return self._scan(self._equalised(padded), copy.source_scale * scale, 24, settings, settings.cascades, pad=10)

    def _equalised(self, image: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._clahe.apply(image)

    def _scan(
        self, small: np.ndarray, scale: float, min_side: int, settings: DetectorSettings, cascades, pad: int = 0
    ) -> list[Proposal]:
        """The cascades' boxes on `small`, an image rescaled by `scale` and bordered by `pad` pixels, in the
        image's coordinates."""
        if min(small.shape) < min_side:
            return []
        found: list[Proposal] = []
        for name in cascades:
            with self._lock:
                raw = self._cascades[name].detectMultiScale(
                    small, settings.scale_factor, 0, minSize=(min_side, min_side)
                )
            if len(raw) == 0:
                continue
            # OpenCV's grouping, which also keeps lone windows when min_neighbors is 0: every window is
            # listed twice, so a cluster of n windows has 2n members and needs more than 2 x min_neighbors.
            boxes, counts = cv2.groupRectangles([list(box) for box in raw] * 2, 2 * settings.min_neighbors + 1, 0.2)
            found += [
                Proposal((int(round((x - pad) / scale)), int(round((y - pad) / scale)),
                          int(round(w / scale)), int(round(h / scale))), int(count) // 2)
                for (x, y, w, h), count in zip(boxes, np.ravel(counts))
            ]  # fmt: skip
        return found


class FaceDetector:
    """Faces in any image: BlazeFace in photos, the Haar cascades in video frames, boxes checked by the face
    verifier. One detector is shared by all callers (photo page sessions, the live callback)."""

    def __init__(self, settings: DetectorSettings = DetectorSettings()):
        self.settings = settings
        for path in (VERIFIER_PATH, BLAZEFACE_PATH):
            if not path.is_file():
                raise DetectorError(f"{shown_path(path)} not found; restore it with `git checkout -- models/`")
        try:
            self.blazeface = BlazeFace(BLAZEFACE_PATH)
        except ValueError as error:
            raise DetectorError(f"LiteRT cannot read {shown_path(BLAZEFACE_PATH)}: {error}") from error
        self.proposals = HaarProposals()
        self.verifier = FaceVerifier.load(VERIFIER_PATH)

    def detect(self, image: np.ndarray, settings: DetectorSettings | None = None) -> list[Box]:
        """Boxes of the faces in `image` (BGR or grayscale), largest first."""
        return [face.box for face in self.detect_faces(image, settings)]

    def detect_faces(self, image: np.ndarray, settings: DetectorSettings | None = None) -> list[DetectedFace]:
        """The faces in `image` (BGR or grayscale), largest first, with their eyes where the search gives them."""
        settings = settings or self.settings
        if min(image.shape[:2]) < 24:
            return []
        if settings.search == "photo":
            return self._photo(image, settings)
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return [DetectedFace(_grown(box, settings.haar_box_scale)) for box in self._haar(gray, settings, True)]

    def detect_near(self, image: np.ndarray, boxes: list[Box], settings: DetectorSettings | None = None) -> list[Box]:
        """Faces near `boxes` only (a video's faces of the previous analysis): each box's region, twice its
        size, is searched by the Haar cascades for a face from half to twice the box's size, with the same
        checks as `detect`. Far cheaper than a whole frame; a face that appears elsewhere needs `detect`."""
        settings = replace(settings or self.settings, min_face_fraction=0.25, max_side=10_000)
        height, width = image.shape[:2]
        found: list[Box] = []
        for box in boxes:
            # the region around the cascade's own box, not the grown one the caller holds: the same work as before
            x, y, w, h = _grown(box, 1 / settings.haar_box_scale)
            x0, y0 = max(0, x - w // 2), max(0, y - h // 2)
            x1, y1 = min(width, x + w + w // 2), min(height, y + h + h // 2)
            if x1 - x0 < 24 or y1 - y0 < 24:
                continue
            region = image[y0:y1, x0:x1]
            gray = region if region.ndim == 2 else cv2.cvtColor(region, cv2.COLOR_BGR2GRAY)
            for bx, by, bw, bh in self._haar(gray, settings, close_ups=False):
                box = _grown((bx + x0, by + y0, bw, bh), settings.haar_box_scale)
                if not any(_same_face(box, other) for other in found):
                    found.append(box)
        return sorted(found, key=lambda b: b[2] * b[3], reverse=True)

    # ---- photos: BlazeFace ----

    def _photo(self, image: np.ndarray, settings: DetectorSettings) -> list[DetectedFace]:
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
        height, width = bgr.shape[:2]
        stricter = 0.25 * settings.min_neighbors
        sides = [side for side in settings.view_short_sides if side <= max(settings.always_view, min(height, width))]
        views = _Pyramid(bgr)
        sure: list[tuple[float, Candidate, Box, bool]] = []  # ... and whether the verifier has read it
        unsure: list[tuple[float, Candidate, Box, float]] = []  # ... and the verifier's log-odds each needs
        for side in sorted(sides, reverse=True):  # the largest first: each smaller view is shrunk from the last
            views.whole(side)
        for candidate in self._close_up_view(views, settings.closeup_logit + stricter):
            sure.append((candidate.logit, candidate, self._square(candidate, settings), False))
        for side in sides:
            # A large view of a large image proposes many weak candidates, and a few would fool the verifier
            # at the small views' threshold: its own is stricter.
            needs = settings.verifier_for_blaze if side <= settings.always_view else settings.verifier_for_large_view
            for candidate in self._whole_view(views, side, settings.mid_floor_logit + stricter):
                box = self._square(candidate, settings)
                if candidate.logit >= settings.mid_logit + stricter:
                    sure.append((candidate.logit, candidate, box, False))
                else:
                    unsure.append((candidate.logit, candidate, box, needs + stricter))
        smallest = settings.min_face_fraction * min(height, width)
        # An unsure candidate on a face a sure one outscores it on is left unchecked: the merge below drops it.
        unsure = [
            scored
            for scored in unsure
            if not any(
                logit >= scored[0]
                and box[2] >= smallest
                and (_centre_inside(box, scored[2]) or _centre_inside(scored[2], box))
                for logit, _, box, _ in sure
            )
        ]
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if sure or unsure else None
        if unsure:
            logodds = self.verifier.check(gray, [box for _, _, box, _ in unsure])
            sure += [(logit, c, box, True) for (logit, c, box, needs), odds in zip(unsure, logodds) if odds >= needs]
        kept: list[tuple[DetectedFace, bool]] = []
        for _, candidate, box, read in sorted(sure, key=lambda scored: -scored[0]):
            # One face per place: a box centred inside a better-scored face (a part of it) or around one goes.
            if box[2] < smallest or any(_centre_inside(box, f.box) or _centre_inside(f.box, box) for f, _ in kept):
                continue
            eyes = sorted((tuple(map(float, candidate.keypoints[0])), tuple(map(float, candidate.keypoints[1]))))
            kept.append((DetectedFace(box, (eyes[0], eyes[1])), read))
        # The veto: the faces kept on BlazeFace's word alone, read by the verifier now, in one call.
        odds = iter(self.verifier.check(gray, [face.box for face, read in kept if not read]))
        faces = [face for face, read in kept if read or next(odds) >= settings.verifier_veto]
        return sorted(faces, key=lambda face: face.box[2] * face.box[3], reverse=True)

    def _close_up_view(self, views: _Pyramid, min_logit: float) -> list[Candidate]:
        """BlazeFace on the whole image letterboxed into 128 x 128 with a border, in the image's pixels."""
        height, width = views.image.shape[:2]
        scale = 128 / (max(height, width) * (1 + 2 * self.settings.closeup_pad))
        inner = (max(1, round(width * scale)), max(1, round(height * scale)))
        left, top = (128 - inner[0]) // 2, (128 - inner[1]) // 2
        bottom, right = 128 - inner[1] - top, 128 - inner[0] - left
        canvas = cv2.copyMakeBorder(views.resized(inner), top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
        sx, sy = inner[0] / width, inner[1] / height
        return [_moved(c, (left, top), (sx, sy)) for c in self.blazeface.faces(canvas, min_logit)]

    def _whole_view(self, views: _Pyramid, short_side: int, min_logit: float) -> list[Candidate]:
        """BlazeFace on the whole image with its shorter side rescaled to `short_side`, in the image's pixels."""
        height, width = views.image.shape[:2]
        view = views.whole(short_side)
        sx, sy = view.shape[1] / width, view.shape[0] / height
        return [_moved(c, (0, 0), (sx, sy)) for c in self.blazeface.faces(view, min_logit)]

    def _square(self, candidate: Candidate, settings: DetectorSettings) -> Box:
        x0, y0, x1, y1 = candidate.corners
        size = max(x1 - x0, y1 - y0)
        side = size * settings.box_scale
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - settings.box_up * size
        return int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(side)), int(round(side))

    # ---- video frames: the Haar cascades ----

    def _haar(self, gray: np.ndarray, settings: DetectorSettings, close_ups: bool) -> list[Box]:
        """Each cascade in turn searches outside the faces found before it (the cascades spend most of their
        time on the windows near a face); where a face was chosen over a box in or around it (a whole head,
        or part of the face), the next cascade searches there too: its box of the face may be better checked.
        A search of close-ups follows only when no face was found."""
        copy = self.proposals.copy(gray, settings)
        if copy is None:
            return []
        scored: list[tuple[float, Box]] = []
        faces: list[Box] = []
        settled: list[Box] = []
        for name in settings.cascades:
            scored += self._scored(gray, self.proposals.whole(copy, settings, name, outside=settled))
            faces = _faces(scored, settings.min_face_score)
            passing = [box for score, box in scored if score >= settings.min_face_score]
            settled = [face for face in faces if not any(_inside(b, face) or _inside(face, b) for b in passing)]
        if faces or not close_ups:
            return faces
        return _faces(self._scored(gray, self.proposals.close_ups(copy, settings)), settings.min_face_score)

    def _scored(self, gray: np.ndarray, proposals: list[Proposal]) -> list[tuple[float, Box]]:
        """Each proposal's box with its score: the verifier's log-odds plus the log of the number of cascade
        windows behind it (a face is found by many windows at neighbouring places and sizes; a lone window
        needs the verifier's stronger word)."""
        boxes = [p.box for p in proposals]
        scores = self.verifier.check(gray, boxes) + np.log([max(1, p.windows) for p in proposals])
        return list(zip(scores, boxes))


class _Pyramid:
    """An image and the rescaled copies made of it for the photo search. A copy is made from the smallest one
    already made that is at least as large (the whole image at first): the 176x128 view of a 640x480 frame
    from its 336x256 copy costs 0.3 ms instead of 1.1. What is left of a shrink after its whole factor (less
    than twice) is bilinear: a 640x480 frame's 336x256 view then costs 0.3 ms instead of 1.5 for averaging
    pixel areas, and the same faces and phantoms are found in wild-dev's 700 photos and 74 face-free
    pictures (docs/detection.md)."""

    def __init__(self, image: np.ndarray):
        self.image = image
        self._copies: dict[tuple[int, int], np.ndarray] = {}

    def whole(self, short_side: int) -> np.ndarray:
        """The image with its shorter side at `short_side`, both sides rounded to multiples of 16 (BlazeFace's grid)."""
        height, width = self.image.shape[:2]
        scale = short_side / min(height, width)
        return self.resized((max(16, round(width * scale / 16) * 16), max(16, round(height * scale / 16) * 16)))

    def resized(self, size: tuple[int, int]) -> np.ndarray:
        """The image stretched to `size` (width, height)."""
        if size not in self._copies:
            larger = [c for c in self._copies.values() if c.shape[1] >= size[0] and c.shape[0] >= size[1]]
            source = min(larger, key=lambda c: c.shape[0] * c.shape[1], default=self.image)
            if source.shape[1] < size[0] or source.shape[0] < size[1]:
                source = self.image
            self._copies[size] = _stretched(source, size, rest=cv2.INTER_LINEAR)
        return self._copies[size]


def _stretched(image: np.ndarray, size: tuple[int, int], rest: int = cv2.INTER_AREA) -> np.ndarray:
    """`image` resized to `size` (width, height): enlarged bilinearly; shrunk by averaging pixel areas by a
    whole factor first where it can (OpenCV's fast path), then by what is left, less than twice, with `rest`
    (averaging areas by default; the photo search's views bilinearly, see `_Pyramid`)."""
    width, height = image.shape[1], image.shape[0]
    factor = min(width // size[0], height // size[1])
    if factor >= 2 and (width, height) != size:
        image = cv2.resize(image[: height // factor * factor, : width // factor * factor],
                           (width // factor, height // factor), interpolation=cv2.INTER_AREA)  # fmt: skip
    if (image.shape[1], image.shape[0]) == size:
        return image
    shrinking = image.shape[1] >= size[0] and image.shape[0] >= size[1]
    return cv2.resize(image, size, interpolation=rest if shrinking else cv2.INTER_LINEAR)


def _grown(box: Box, scale: float) -> Box:
    """`box` grown by `scale` about its centre."""
    x, y, w, h = box
    side_w, side_h = round(w * scale), round(h * scale)
    return int(round(x + (w - side_w) / 2)), int(round(y + (h - side_h) / 2)), side_w, side_h


def _centre_inside(a: Box, b: Box) -> bool:
    """The centre of box `a` lies inside box `b`."""
    cx, cy = a[0] + a[2] / 2, a[1] + a[3] / 2
    return b[0] <= cx <= b[0] + b[2] and b[1] <= cy <= b[1] + b[3]


def _moved(candidate: Candidate, offset: tuple[int, int], scale: tuple[float, float]) -> Candidate:
    """`candidate` of a view taken back to the image's pixels: the view's `offset` removed, its `scale` undone."""
    ox, oy = offset
    sx, sy = scale
    return Candidate(
        (candidate.corners - [ox, oy, ox, oy]) / [sx, sy, sx, sy],
        candidate.logit,
        (candidate.keypoints - [ox, oy]) / [sx, sy],
    )


def _resized(image: np.ndarray, scale: float) -> np.ndarray:
    """`image` rescaled by `scale` (see `_stretched`)."""
    return _stretched(image, _size(image, scale))


def _size(image: np.ndarray, scale: float) -> tuple[int, int]:
    return max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
