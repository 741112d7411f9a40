"""Decoding user-supplied image bytes safely into BGR arrays."""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

# Refuse before decoding anything larger: 100 MP is far above any camera photo, and
# a crafted PNG of 30,000 x 30,000 pixels would otherwise ask for gigabytes.
MAX_PIXELS = 100_000_000
# Photos are analysed at most this large (longer side); bigger ones are scaled down.
MAX_SIDE = 4096
# No photo of a face is 100 times longer than it is wide; scaled down, such a strip would become
# less than a pixel thin (Streamlit's st.image fails on one that is 4096 x 1).
MAX_ASPECT = 100
# Decoding an image near MAX_PIXELS takes up to ~1 GB for a few seconds. At most two such decodes run
# at once in a process, so that many sessions uploading big images together cannot exhaust memory.
LARGE_PIXELS = 16_000_000
_large_decodes = threading.BoundedSemaphore(2)
# Only these decoders ever see user bytes (JPEG includes phones' multi-picture MPO files). Pillow
# would otherwise try every format it knows, EPS included, which hands the file to Ghostscript.
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
# EXIF orientation -> the transposition that makes the image upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# MAX_PIXELS is enforced below, and a damaged EXIF block only costs the rotation: Pillow's warnings
# about either would be noise on the command line's stderr.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
warnings.filterwarnings("ignore", message=r"(possibly )?corrupt exif", category=UserWarning)


class ImageError(ValueError):
    """The input is not an image this app can read; the message says why."""


def decode_image(data: bytes, max_side: int = MAX_SIDE) -> np.ndarray:
    """Image file bytes -> upright BGR uint8 array, scaled down to at most `max_side`.

    Works from the bytes alone (nothing is written to disk). Memory stays within a few
    times the decoded size of the first frame, which MAX_PIXELS bounds before decoding.
    """
    if not data:
        raise ImageError("the file is empty")
    limit = f"at most {MAX_PIXELS // 1_000_000} megapixels are accepted"
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageError(f"the image is {width}x{height} pixels, too large to decode safely; {limit}")
        if max(width, height) > MAX_ASPECT * min(width, height):
            raise ImageError(f"the image is {width}x{height} pixels, too narrow to hold a face")
        if image.format in ("JPEG", "MPO") and max(width, height) > max_side:
            # Let the JPEG decoder scale down by 2, 4 or 8 while decoding: faster and smaller.
            scale = max_side / max(width, height)
            image.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
        width, height = image.size  # after the draft
        with _large_decodes if width * height > LARGE_PIXELS else contextlib.nullcontext():
            rgb = _small_rgb(image, max_side)
        upright = _UPRIGHT.get(_orientation(image))
        if upright is not None:
            rgb = rgb.transpose(upright)
    except ImageError:
        raise
    except UnidentifiedImageError as error:
        raise ImageError("not an image file of a known format (jpg, png, webp, bmp, ...)") from error
    except Image.DecompressionBombError as error:
        raise ImageError(f"the image is too large to decode safely; {limit}") from error
    except MemoryError as error:
        raise ImageError("the image is too large to decode with the memory available") from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageError(f"the image is damaged or truncated ({_reason(error)})") from error
    except Exception as error:  # a damaged file makes Pillow's format plugins raise almost any type
        raise ImageError("the image is damaged or truncated") from error
    return np.ascontiguousarray(np.asarray(rgb, np.uint8)[:, :, ::-1])


def read_image(path: str | Path, max_side: int = MAX_SIDE) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if not path.is_file():
        raise ImageError(f"{path}: not a file")
    try:
        return decode_image(path.read_bytes(), max_side)
    except ImageError as error:
        raise ImageError(f"{path}: {error}") from error


def check_image_file(path: str | Path) -> None:
    """Raises ImageError unless `path` is a file whose header is that of an image this app reads.

    Reads the header only, not the pixels: the quick check of a command's inputs before a model loads.
    """
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if not path.is_file():
        raise ImageError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty")
    try:
        with Image.open(path, formats=FORMATS):
            pass
    except UnidentifiedImageError as error:
        raise ImageError(f"{path}: not an image file of a known format (jpg, png, webp, bmp, ...)") from error
    except Image.DecompressionBombError as error:
        limit = f"at most {MAX_PIXELS // 1_000_000} megapixels are accepted"
        raise ImageError(f"{path}: the image is too large to decode safely; {limit}") from error
    except Exception as error:  # a damaged header makes Pillow's format plugins raise almost any type
        raise ImageError(f"{path}: the image is damaged or truncated ({_reason(error)})") from error


def encode_png(image_bgr: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image_bgr[:, :, ::-1])).save(buffer, format="PNG")
    return buffer.getvalue()


def encode_jpeg(image_bgr: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image_bgr[:, :, ::-1])).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def image_format(data: bytes) -> str | None:
    """The kind of image `data` holds ("JPEG", "PNG", ...; phones' MPO counts as JPEG), None if unknown.
    Reads the header only."""
    try:
        kind = Image.open(io.BytesIO(data), formats=FORMATS).format
    except Exception:
        return None
    return "JPEG" if kind == "MPO" else kind


def _small_rgb(image: Image.Image, max_side: int) -> Image.Image:
    """The first frame of any mode (16-bit, CMYK, palette, alpha, animated) as 8-bit RGB within `max_side`.

    Scaled down before the conversions that copy the whole image, so a 100 MP upload
    never exists in several full-size copies at once.
    """
    image.seek(0)
    if image.mode.startswith("I;16"):
        image = _to_8bit(image)  # resizing 16-bit pixels would go through a 32-bit copy
    elif image.mode in ("1", "P", "PA"):  # resizing these would pick nearest pixels: convert first
        transparent = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "L" if image.mode == "1" else "RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if image.mode in ("I", "F"):
        image = _to_8bit(image)
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert("RGB")


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit or float gray -> 8-bit gray, scaled so the brightest pixel is 255."""
    if image.mode.startswith("I;16"):
        # A lookup table: no float copy of what may be a 100-megapixel image.
        pixels = np.asarray(image).astype(np.uint16, copy=False)
        top = int(pixels.max()) or 1
        table = np.minimum(np.arange(65536) * 255 // top, 255).astype(np.uint8)
        return Image.fromarray(table[pixels])
    pixels = np.nan_to_num(np.asarray(image, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low = min(float(pixels.min()), 0.0)
    span = (float(pixels.max()) - low) or 1.0
    return Image.fromarray(((pixels - low) * (255.0 / span)).astype(np.uint8))


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation tag, or None: a damaged EXIF block costs the rotation, not the photo."""
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:
        return None


def _reason(error: Exception) -> str:
    return str(error).split("\n")[0][:120] or type(error).__name__
