"""Uploaded init images: only real pictures of sane size are stored, re-encoded, by content address."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from atelier.errors import InvalidInput
from atelier.uploads import MAX_UPLOAD_BYTES, store_upload


def encoded(picture: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring a huge picture, with a tiny compressed body: the classic bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + 3 * width) * 16, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_a_jpeg_is_stored_as_a_png_without_its_metadata(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "camera maker"
    upload = store_upload(tmp_path, encoded(Image.new("RGB", (96, 64), "teal"), "JPEG", exif=exif))
    assert (upload.width, upload.height) == (96, 64) and upload.address.endswith(".png")
    with Image.open(tmp_path / upload.address) as stored:
        assert stored.format == "PNG" and not stored.getexif()


def test_the_same_picture_twice_is_one_file(tmp_path: Path) -> None:
    data = encoded(Image.new("RGB", (32, 32), "red"), "PNG")
    assert store_upload(tmp_path, data) == store_upload(tmp_path, data)
    assert len(list(tmp_path.rglob("*.png"))) == 1


@pytest.mark.parametrize(("edge", "reason"), [(3000, "3000x3000"), (60000, "far over")])
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path: Path, edge: int, reason: str) -> None:
    """A few hundred bytes declaring 9 or 3600 megapixels: refused from the header, nothing stored."""
    with pytest.raises(InvalidInput, match=reason):
        store_upload(tmp_path, png_bomb(edge, edge))
    assert not list(tmp_path.rglob("*"))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a" + b"\0" * 100, "not a PNG, JPEG or WebP"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a PNG, JPEG or WebP"),
        (encoded(Image.new("RGB", (64, 64), "blue"), "PNG")[:60], "damaged"),
        (b"x" * (MAX_UPLOAD_BYTES + 1), "the limit is 10 MiB"),
    ],
    ids=["gif", "svg", "truncated", "too-large"],
)
def test_what_is_not_a_usable_picture_is_refused(tmp_path: Path, data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as caught:
        store_upload(tmp_path, data)
    assert caught.value.field == "init_image"
