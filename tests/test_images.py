import io

import numpy as np
import pytest
from PIL import Image

from fer_core.media.images import MAX_SIDE, ImageError, decode_image


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def test_exif_orientation_is_honoured():
    wide = Image.new("RGB", (300, 200), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    decoded = decode_image(_encode(wide, "JPEG", exif=exif.tobytes()))
    assert decoded.shape == (300, 200, 3)


def test_returns_bgr():
    decoded = decode_image(_encode(Image.new("RGB", (10, 10), (255, 0, 0)), "PNG"))
    assert tuple(decoded[0, 0]) == (0, 0, 255)


def test_large_photo_is_scaled_down_not_refused():
    decoded = decode_image(_encode(Image.new("RGB", (4000, 3000), "gray"), "JPEG"), max_side=1024)
    assert decoded.shape == (768, 1024, 3)
    assert max(decode_image(_encode(Image.new("L", (5000, 100)), "PNG")).shape) == MAX_SIDE


@pytest.mark.parametrize(
    "data, message",
    [(b"", "empty"), (b"hello, this is text", "not an image"), (None, "damaged or truncated")],
)
def test_bad_bytes_raise_image_error(data, message):
    if data is None:
        data = _encode(Image.new("RGB", (200, 200), "blue"), "JPEG")[:300]
    with pytest.raises(ImageError, match=message):
        decode_image(data)


def test_modes_become_rgb():
    for image in [
        Image.new("L", (8, 8), 128),
        Image.new("RGBA", (8, 8), (10, 20, 30, 0)),
        Image.new("P", (8, 8)),
        Image.new("CMYK", (8, 8), (0, 0, 0, 0)),
        Image.fromarray(np.full((8, 8), 60000, np.uint16)),
    ]:
        decoded = decode_image(_encode(image, "TIFF" if image.mode == "CMYK" else "PNG"))
        assert decoded.shape == (8, 8, 3) and decoded.dtype == np.uint8
