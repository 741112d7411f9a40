"""Property-based fuzzing of decode -> pipeline: whatever the bytes, an array or an ImageError, never a crash.

Three fixed, derandomized runs: random bytes and valid image files damaged by bit flips / truncation /
splices (200 examples each), and random small arrays encoded in random formats; and every format and
mode PIL writes here, once.

The encoded arrays draw the profile's number of examples (tests/conftest.py: 50, or 200 with
HYPOTHESIS_PROFILE=thorough). Each of them is a valid image that the whole pipeline then searches, the
suite's costliest step, and traced line by line they run the same lines of `decode_image` and PIL
(within 1%) from 25 examples to 200; what more examples add is more of the format and mode pairs, which
`test_every_format_and_mode_decodes` covers in full. Random bytes rarely decode at all (none of the 200)
and the damaged files reach new code up to their last examples, so both keep 200.
"""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fer_core.media.images import ImageError, decode_image
from fer_core.pipeline import Face

MAX_SIDE = 256  # small, so that a mutated header claiming a large image is also scaled down fast
FUZZ = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Formats PIL can write, with the array modes each accepts.
FORMATS = {
    "PNG": ("L", "RGB", "RGBA", "I;16", "P"),
    "JPEG": ("L", "RGB", "CMYK"),
    "BMP": ("L", "RGB", "P"),
    "GIF": ("L", "P", "RGB"),
    "WEBP": ("RGB", "RGBA"),
    "TIFF": ("L", "RGB", "RGBA", "CMYK", "I;16"),
}


def _encode(array: np.ndarray, mode: str, fmt: str) -> bytes:
    if mode == "I;16":
        image = Image.fromarray(array[..., 0].astype(np.uint16) * 257)
    elif mode == "P":
        image = Image.fromarray(array[..., :3]).quantize(16)
    elif mode == "L":
        image = Image.fromarray(array[..., 0])
    elif mode == "CMYK":
        image = Image.fromarray(array[..., :3]).convert("CMYK")
    else:
        image = Image.fromarray(array[..., : len(mode)])
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _seeds() -> list[bytes]:
    """Small valid files of every format: the material the mutations start from."""
    from skimage import data

    face = data.astronaut()[30:230, 150:350]  # 200x200 around the face
    x, y = np.meshgrid(np.arange(0, 256, 4, dtype=np.uint8), np.arange(0, 256, 4, dtype=np.uint8))
    gradient = np.dstack([x, y, x // 2 + y // 2])
    seeds = []
    for fmt, modes in FORMATS.items():
        for mode in modes:
            seeds.append(_encode(np.dstack([face, face[..., :1]]), mode, fmt))
            seeds.append(_encode(np.dstack([gradient, gradient[..., :1]]), mode, fmt))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate
    exif[0x010E] = "a photo"  # an ImageDescription, for the EXIF parser to chew on
    frames = [Image.fromarray(face), Image.fromarray(gradient)]
    for fmt, options in [("JPEG", {"exif": exif.tobytes()}), ("GIF", {"save_all": True, "append_images": frames[1:]})]:
        buffer = io.BytesIO()
        frames[0].save(buffer, format=fmt, **options)
        seeds.append(buffer.getvalue())
    return seeds


SEEDS = _seeds()


def _check(data: bytes, pipeline) -> None:
    """The property: an upright BGR uint8 image within max_side, or an ImageError; faces from any image."""
    try:
        image = decode_image(data, max_side=MAX_SIDE)
    except ImageError as error:
        assert str(error)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert 1 <= max(image.shape[:2]) <= MAX_SIDE
    faces = pipeline.analyze(image)
    assert isinstance(faces, list) and all(isinstance(face, Face) for face in faces)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(data, pipeline):
    _check(data, pipeline)


@st.composite
def mutated_files(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):  # bit flips, many of them in the header
        at = draw(st.integers(0, min(len(data) - 1, draw(st.sampled_from([64, 512, len(data) - 1])))))
        data[at] ^= 1 << draw(st.integers(0, 7))
    if draw(st.booleans()):  # splice: a slice of another file, or random bytes, dropped in somewhere
        donor = draw(st.sampled_from(SEEDS + [draw(st.binary(min_size=1, max_size=64))]))
        start = draw(st.integers(0, len(donor) - 1))
        piece = donor[start : start + draw(st.integers(1, 256))]
        at = draw(st.integers(0, len(data)))
        end = at + draw(st.integers(0, 64))
        data[at:end] = piece
    if draw(st.booleans()):  # truncation
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@FUZZ
@given(data=mutated_files())
def test_mutated_image_files(data, pipeline):
    _check(data, pipeline)


@st.composite
def encoded_arrays(draw) -> tuple[bytes, tuple[int, int]]:
    height, width = draw(st.integers(1, 96)), draw(st.integers(1, 96))
    seed = draw(st.integers(0, 2**32 - 1))
    array = np.random.default_rng(seed).integers(0, 256, (height, width, 4), np.uint8)
    if draw(st.booleans()):  # flat areas as well as noise
        array[:] = array[0, 0]
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    return _encode(array, draw(st.sampled_from(FORMATS[fmt])), fmt), (height, width)


@settings(FUZZ, max_examples=settings.default.max_examples)
@given(case=encoded_arrays())
def test_random_arrays_in_random_formats_decode(case, pipeline):
    data, size = case
    image = decode_image(data, max_side=MAX_SIDE)  # valid files must decode, not merely fail cleanly
    assert image.dtype == np.uint8 and image.shape == (*size, 3)
    assert isinstance(pipeline.analyze(image), list)


@pytest.mark.parametrize(("fmt", "mode"), [(fmt, mode) for fmt, modes in FORMATS.items() for mode in modes])
def test_every_format_and_mode_decodes(fmt, mode):
    array = np.random.default_rng(0).integers(0, 256, (37, 53, 4), np.uint8)
    image = decode_image(_encode(array, mode, fmt), max_side=MAX_SIDE)
    assert image.dtype == np.uint8 and image.shape == (37, 53, 3)


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_every_seed_is_valid(seed):
    """The mutations start from files that decode: otherwise the fuzzing above tests less than it says."""
    assert decode_image(SEEDS[seed]).dtype == np.uint8
