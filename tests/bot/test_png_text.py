"""Reading A1111's "parameters" PNG chunk without decoding the picture."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from atelier.storage import png_bytes
from bot.png_text import NotPng, parameters, text_chunks

INFOTEXT = "a red circle\nNegative prompt: blurry\nSteps: 4, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 64x64"


def test_parameters_are_read_from_a_png() -> None:
    """The tEXt chunk A1111 and Atelier write is read back as it was written."""
    assert parameters(png_bytes(Image.new("RGB", (8, 8)), INFOTEXT)) == INFOTEXT


def test_international_text_chunks_are_read() -> None:
    """A compressed iTXt chunk (other tools write those) is read too, in UTF-8."""
    info = PngInfo()
    info.add_itxt("parameters", "un chat — été", zip=True)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG", pnginfo=info)
    assert parameters(buffer.getvalue()) == "un chat — été"


def test_reading_stops_at_the_image_data() -> None:
    """The text is found in the file's first bytes, and the pixels are seen as reached."""
    data = png_bytes(Image.new("RGB", (256, 256)), INFOTEXT)
    start = data[: data.index(b"IDAT") + 4]
    chunks, reached = text_chunks(start)
    assert chunks["parameters"] == INFOTEXT and reached


def test_a_png_without_parameters_has_none() -> None:
    """A plain PNG gives None, not an error."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    assert parameters(buffer.getvalue()) is None


def test_a_jpeg_is_not_a_png() -> None:
    """Other formats are refused as such."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG")
    with pytest.raises(NotPng):
        parameters(buffer.getvalue())
