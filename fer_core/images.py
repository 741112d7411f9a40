"""Decoding user-supplied image bytes safely into BGR arrays."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Refuse before decoding anything larger: 100 MP is far above any camera photo, and
# a crafted PNG of 30,000 x 30,000 pixels would otherwise ask for gigabytes.
MAX_PIXELS = 100_000_000
# Photos are analysed at most this large (longer side); bigger ones are scaled down.
MAX_SIDE = 4096


class ImageError(ValueError):
    """The input is not an image this app can read; the message says why."""


def decode_image(data: bytes, max_side: int = MAX_SIDE) -> np.ndarray:
    """Image file bytes -> upright BGR uint8 array, scaled down to at most `max_side`."""
    if not data:
        raise ImageError("the file is empty")
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageError(
                f"the image is {width}x{height} pixels; at most {MAX_PIXELS // 1_000_000} megapixels are accepted"
            )
        if image.format == "JPEG" and max(width, height) > 2 * max_side:
            image.draft("RGB", (width // 2, height // 2))  # decode a JPEG at reduced size: much faster
        image = ImageOps.exif_transpose(image)
        image = _to_rgb(image)
    except ImageError:
        raise
    except UnidentifiedImageError as error:
        raise ImageError("not an image file of a known format (jpg, png, webp, bmp, ...)") from error
    except Image.DecompressionBombError as error:
        raise ImageError(f"the image is too large to decode safely ({_reason(error)})") from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageError(f"the image is damaged or truncated ({_reason(error)})") from error
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    rgb = np.asarray(image, np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


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


def encode_png(image_bgr: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image_bgr[:, :, ::-1])).save(buffer, format="PNG")
    return buffer.getvalue()


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode (16-bit, CMYK, palette, alpha, animated) -> 8-bit RGB of the first frame."""
    image.seek(0)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, np.float64)
        top = pixels.max() or 1
        image = Image.fromarray((pixels * (255.0 / top)).astype(np.uint8))
    elif image.mode == "F":
        pixels = np.nan_to_num(np.asarray(image, np.float64))
        span = (pixels.max() - pixels.min()) or 1
        image = Image.fromarray(((pixels - pixels.min()) * (255.0 / span)).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def _reason(error: Exception) -> str:
    return str(error).split("\n")[0][:120] or type(error).__name__
