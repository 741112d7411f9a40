"""Hostile and broken uploads, made in code: one place for every case and what it should produce.

`corpus()` returns name -> Case. Each case is the bytes of one upload, the file name a user
would give it, and the expected outcome: either a number of faces (the image is read and
analysed) or a piece of the error message the user should see. Used by
tests/test_hostile_input.py (CLI and photo page) and bench/hostile_report.py (the table).
"""

from __future__ import annotations

import functools
import io
import json
import os
import signal
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "pages" / "photo.py"
# Peak RSS the CLI may reach (TensorFlow included) on the 30,000 x 30,000 PNG bomb, and on the whole
# corpus, whose 10,000 x 10,000 16-bit PNG is decoded. Measured: 0.64 GB and 1.2 GB.
CLI_RSS_LIMIT_MB = 2500
# File names are ones the photo page's uploader accepts (it checks the extension; content decides the rest).
MIME = {".jpg": "image/jpeg", ".png": "image/png"}


@dataclass(frozen=True)
class Case:
    data: bytes
    filename: str
    faces: int | None = None  # expected face count when the image is readable
    error: str | None = None  # expected piece of the message when it is not
    what: str = ""

    @property
    def expected(self) -> str:
        return f"{self.faces} face(s)" if self.error is None else f"error: ...{self.error}..."


def astronaut_rgb() -> np.ndarray:
    """A smiling frontal face (scikit-image's sample photo), 512x512 RGB."""
    from skimage import data

    return data.astronaut()


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def blank_png(width: int, height: int, bit_depth: int = 1) -> bytes:
    """A valid grayscale PNG of width x height black pixels, compressed ~1000:1 (written by hand with zlib)."""
    row = b"\x00" * (1 + (width * bit_depth + 7) // 8)  # filter byte "none" + the packed pixels
    compressor = zlib.compressobj(9)
    rows_per_block = 500
    idat = b"".join(compressor.compress(row * rows_per_block) for _ in range(height // rows_per_block))
    idat += compressor.compress(row * (height % rows_per_block)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF0) claiming another size."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


def _huge_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 1  # orientation: upright
    exif[0x010E] = "A" * 60_000  # ImageDescription: ~60 KB, close to the 64 KB a JPEG segment can hold
    return exif.tobytes()


def _garbage_exif_jpeg(jpeg: bytes) -> bytes:
    """A JPEG with an extra APP1 'Exif' segment full of random bytes (bad offsets, bad counts)."""
    payload = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08" + np.random.default_rng(6).bytes(4000)
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def _tiff_with_float_strip_offset(rgb: np.ndarray) -> bytes:
    """A TIFF whose StripOffsets tag is typed FLOAT: Pillow raised a bare TypeError on it (found by fuzzing)."""
    tiff = bytearray(_save(Image.fromarray(rgb), "TIFF"))
    ifd = struct.unpack_from("<I", tiff, 4)[0]
    for entry in range(struct.unpack_from("<H", tiff, ifd)[0]):
        at = ifd + 2 + 12 * entry
        if struct.unpack_from("<H", tiff, at)[0] == 0x0111:  # StripOffsets
            struct.pack_into("<H", tiff, at + 2, 11)  # type 11 = FLOAT
    return bytes(tiff)


def _animated_gif(rgb: np.ndarray) -> bytes:
    frames = [Image.fromarray(rgb)] + [Image.new("RGB", rgb.shape[1::-1], color) for color in ("red", "blue")]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


@functools.cache
def corpus() -> dict[str, Case]:
    rgb = astronaut_rgb()
    photo = Image.fromarray(rgb)
    jpeg = _save(photo, "JPEG", quality=90)
    png = _save(photo, "PNG")
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    rgb16 = rgb.astype(np.uint16) * 257
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:40, :, 3] = 0  # a transparent band at the top
    palette = photo.quantize(256)
    palette_transparent = palette.copy()
    palette_transparent.info["transparency"] = 0
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n%%EndComments\nnewpath 0 0 moveto showpage\n"
    return {
        "empty file": Case(b"", "empty.jpg", error="the file is empty"),
        "text renamed .jpg": Case(b"Dear diary, I renamed a text file.\n" * 20, "holiday.jpg", error="not an image"),
        "SVG renamed .png": Case(b'<svg xmlns="http://www.w3.org/2000/svg"/>', "logo.png", error="not an image"),
        "EPS (PostScript)": Case(eps, "drawing.jpg", error="not an image", what="must never reach Ghostscript"),
        "truncated JPEG": Case(jpeg[: len(jpeg) // 2], "cut.jpg", error="truncated"),
        "truncated PNG": Case(png[: len(png) // 2], "cut.png", error="truncated"),
        "TIFF with FLOAT strip offset": Case(_tiff_with_float_strip_offset(rgb), "scan.jpg", error="damaged"),
        "PNG bomb 30000x30000": Case(blank_png(30_000, 30_000), "bomb.png", error="too large", what="1-bit, 900 MP"),
        "16-bit PNG 10000x10000": Case(blank_png(10_000, 10_000, 16), "limit.png", faces=0, what="at the 100 MP limit"),
        "JPEG header 65500x65500": Case(_jpeg_with_size(jpeg, 65_500, 65_500), "liar.jpg", error="too large"),
        "16-bit grayscale PNG": Case(_save(Image.fromarray(gray.astype(np.uint16) * 257), "PNG"), "deep.png", faces=1),
        "16-bit RGB PNG": Case(cv2.imencode(".png", rgb16[:, :, ::-1])[1].tobytes(), "deep.png", faces=1),
        "CMYK JPEG": Case(_save(photo.convert("CMYK"), "JPEG", quality=90), "print.jpg", faces=1),
        "RGBA PNG": Case(_save(Image.fromarray(rgba), "PNG"), "alpha.png", faces=1),
        "palette PNG": Case(_save(palette, "PNG"), "palette.png", faces=1),
        "palette PNG with transparency": Case(_save(palette_transparent, "PNG"), "palette_t.png", faces=1),
        "animated GIF": Case(_animated_gif(rgb), "party.jpg", faces=1, what="first frame analysed"),
        "1x1 PNG": Case(_save(Image.new("RGB", (1, 1), "white"), "PNG"), "dot.png", faces=0),
        "50000x2 PNG": Case(_save(Image.new("L", (50_000, 2), 200), "PNG"), "line.png", error="too narrow"),
        "JPEG with 60 KB EXIF": Case(_save(photo, "JPEG", quality=90, exif=_huge_exif()), "exif.jpg", faces=1),
        "JPEG with garbage EXIF": Case(_garbage_exif_jpeg(jpeg), "bad_exif.jpg", faces=1),
        "grayscale JPEG": Case(_save(Image.fromarray(gray), "JPEG", quality=90), "gray.jpg", faces=1),
    }


@dataclass(frozen=True)
class Outcome:
    """What a user saw for one case: faces (with labels), an error message, or a crash."""

    faces: int | None = None
    labels: tuple[str, ...] = ()
    error: str | None = None
    crash: str | None = None

    def __str__(self) -> str:
        if self.crash is not None:
            return f"CRASH: {self.crash}"
        if self.error is not None:
            return f"error: {self.error}"
        return f"{self.faces} face(s)" + (f": {', '.join(self.labels)}" if self.labels else "")

    def meets(self, case: Case) -> bool:
        if self.crash is not None:
            return False
        if case.error is not None:
            return self.error is not None and case.error in self.error
        return self.error is None and self.faces == case.faces


def model_args() -> list[str]:
    """The CLI's --model for the model the tests use ($FER_MODEL, else the shipped default)."""
    return ["--model", os.environ["FER_MODEL"]] if os.environ.get("FER_MODEL") else []


# Runs a command and writes the peak resident memory of it (and its children) in KB to argv[1].
_MEASURED = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(code)"
)


def run_measured(command: list[str], folder: Path, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    """Run `command` in the repo root; return its result and its peak RSS in MB. Killed (with its
    children) and raised as TimeoutExpired when it runs past `timeout` seconds: no hangs."""
    report = folder / "peak_rss_kb.txt"
    process = subprocess.Popen(
        [sys.executable, "-c", _MEASURED, str(report), *command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return result, int(report.read_text()) / 1024


def write_files(cases: dict[str, Case], folder: Path) -> dict[str, Path]:
    """Each case as a file (numbered: several cases share a file name)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for number, (name, case) in enumerate(cases.items()):
        paths[name] = folder / f"{number:02d}_{case.filename}"
        paths[name].write_bytes(case.data)
    return paths


def cli_outcomes(cases: dict[str, Case], folder: Path, timeout: float = 300):
    """`python -m fer_core predict --json` on every case at once -> (outcomes, process result, peak RSS MB)."""
    paths = write_files(cases, folder)
    command = [sys.executable, "-m", "fer_core", "predict", "--json", *map(str, paths.values()), *model_args()]
    run, peak_mb = run_measured(command, folder, timeout)
    results = {entry["image"]: entry for entry in json.loads(run.stdout or "[]")}
    errors = {}
    for line in run.stderr.splitlines():
        for path in paths.values():
            if line.startswith(f"error: {path}: "):
                errors[str(path)] = line.removeprefix(f"error: {path}: ")
    outcomes = {}
    for name, path in paths.items():
        if str(path) in errors:
            outcomes[name] = Outcome(error=errors[str(path)])
        elif str(path) in results:
            faces = results[str(path)]["faces"]
            outcomes[name] = Outcome(faces=len(faces), labels=tuple(face["label"] for face in faces))
        else:
            outcomes[name] = Outcome(crash=f"no result, exit status {run.returncode}: {run.stderr.strip()[-300:]}")
    return outcomes, run, peak_mb


def page_outcome(case: Case, timeout: float = 120) -> Outcome:
    """Upload the case on the photo page (AppTest) and read what the page shows."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGE), default_timeout=timeout).run()
    mime = MIME[Path(case.filename).suffix]
    at.file_uploader[0].set_value((case.filename, case.data, mime)).run()
    if at.exception:
        return Outcome(crash=at.exception[0].message)
    if at.error:
        return Outcome(error=at.error[0].value)
    titles = [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]
    labels = tuple(title.split(": ", 1)[1].split(" (")[0] for title in titles)  # "Face 1: happy (87%)"
    if at.success:
        return Outcome(faces=int(at.success[0].value.split()[0]), labels=labels)
    if at.info and at.info[0].value.startswith("No face found"):
        return Outcome(faces=0)
    return Outcome(crash="the page showed neither a result nor an error")
