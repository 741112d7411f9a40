"""Several trained networks read as one model, described by a manifest.

Networks trained separately make partly different mistakes, so the mean of their probabilities is
right more often than any one of them; reading each face in several views (mirrored, shifted) helps
the same way, and works with a single member too. An ensemble's folder holds `ensemble.json`: its
members' folders (relative to the ensemble's own) and the views each member reads. Loading builds
one Keras model from the members' files (the members nested inside, the registered flip and shift
layers, an `Average` layer), so it runs in one compiled call like a single network, and no second
copy of the members' weights is stored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fer_core.model.preprocess import FACE_SIZE, TTA_VIEWS

MANIFEST_FILE = "ensemble.json"
MEMBER_FILE = "model.keras"


@dataclass
class Manifest:
    """An ensemble: its members' folders (relative to the manifest's folder) and the views they read, and
    how sure a face must be to stop reading it.

    `sure_at` (0 to 1; 0: every member reads every face): the classifier reads the members in the
    manifest's order, and a face whose mean so far gives its top class at least this probability is
    not read by the members after (most faces are clear, and the first member alone reads them as the
    whole ensemble would). The first member should be the one that reads real photos best."""

    members: list[str]
    views: str = "flip"
    sure_at: float = 0.0

    def member_dirs(self, folder: Path) -> list[Path]:
        return [Path(folder) / member for member in self.members]


def read_manifest(folder: str | Path) -> Manifest:
    """The manifest in `folder`; ValueError when it is not a list of members and known views."""
    data = json.loads((Path(folder) / MANIFEST_FILE).read_text())
    members, views = data.get("members"), data.get("views", "flip")
    if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
        raise ValueError(f"{MANIFEST_FILE} lists no members")
    if views not in TTA_VIEWS:
        raise ValueError(f"unknown views {views!r}; choose one of {', '.join(TTA_VIEWS)}")
    sure_at = data.get("sure_at", 0.0)
    if isinstance(sure_at, bool) or not isinstance(sure_at, (int, float)) or not 0 <= sure_at <= 1:
        raise ValueError(f"sure_at must be a probability from 0 to 1, not {sure_at!r}")
    return Manifest(members, views, float(sure_at))


def write_manifest(member_dirs: list[str | Path], out: str | Path, views: str = "flip", sure_at: float = 0.0) -> Path:
    """Write `out/ensemble.json` naming `member_dirs` (trained models' folders, in reading order), `views`
    and `sure_at` (see Manifest)."""
    out = Path(out)
    member_dirs = [Path(d) for d in member_dirs]
    for directory in member_dirs:
        if not (directory / MEMBER_FILE).is_file():
            raise ValueError(f"{directory} holds no {MEMBER_FILE}: not a trained network's folder")
    if out.resolve() in {d.resolve() for d in member_dirs}:
        raise ValueError("write the ensemble to its own folder, not over one of its members")
    if views not in TTA_VIEWS:
        raise ValueError(f"unknown views {views!r}; choose one of {', '.join(TTA_VIEWS)}")
    if len(member_dirs) < 2 and not TTA_VIEWS[views]:
        raise ValueError("an ensemble needs at least two members, or one member read in several views")
    if not 0 <= sure_at <= 1:
        raise ValueError(f"sure_at must be a probability from 0 to 1, not {sure_at}")
    out.mkdir(parents=True, exist_ok=True)
    members = [Path(os.path.relpath(d.resolve(), out.resolve())).as_posix() for d in member_dirs]
    manifest = {"members": members, "views": views, **({"sure_at": sure_at} if sure_at else {})}
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return out / MANIFEST_FILE


def load_ensemble(folder: str | Path, load_network: Callable[[Path], object]):
    """The ensemble described in `folder`, built from its members' networks (`load_network` reads one
    `model.keras` file)."""
    manifest = read_manifest(folder)
    members = [load_network(d / MEMBER_FILE) for d in manifest.member_dirs(Path(folder))]
    return build_ensemble(members, views=manifest.views)


def build_ensemble(members: list, views: str = "flip", name: str = "fer_ensemble"):
    """One model whose output is the mean of the members' probabilities over the `views` of
    each face (named as the classifier's test-time augmentations: `none`, `flip` = the face
    and its mirror image, `shift-flip` = ten shifted and mirrored copies). Each view costs one
    more pass of every member."""
    import keras
    from keras import layers

    from fer_core.model.architecture import face_views

    if views not in TTA_VIEWS:
        raise ValueError(f"unknown views {views!r}; choose one of {', '.join(TTA_VIEWS)}")
    shifts = TTA_VIEWS[views]
    if len(members) < 2 and not shifts:
        raise ValueError("an ensemble needs at least two members, or one member read in several views")
    inputs = keras.Input((FACE_SIZE, FACE_SIZE, 1), name="face")
    faces = face_views(inputs, shifts)
    outputs = []
    for i, member in enumerate(members, start=1):
        member.name = f"member_{i}"  # nested models need distinct names
        outputs += [member(face) for face in faces or [inputs]]
    return keras.Model(inputs, layers.Average(name="emotion")(outputs), name=name)
