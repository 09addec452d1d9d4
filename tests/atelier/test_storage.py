"""Image files: content-addressed, with infotext, and a thumbnail."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from atelier.storage import read_infotext, store_image


def test_png_carries_infotext_and_name_is_its_hash(tmp_path: Path) -> None:
    """The PNG's `parameters` chunk holds the infotext; the name is the sha256 of the bytes."""
    stored = store_image(tmp_path, Image.new("RGB", (64, 64), "red"), "a red square\nSteps: 1, Seed: 1, Size: 64x64")
    png = tmp_path / stored.file_path
    assert read_infotext(png) == "a red square\nSteps: 1, Seed: 1, Size: 64x64"
    import hashlib

    assert png.stem == hashlib.sha256(png.read_bytes()).hexdigest()
    assert (stored.width, stored.height) == (64, 64)


def test_small_renders_get_a_crisp_enlarged_webp_thumbnail(tmp_path: Path) -> None:
    """A 64x64 render gets a WebP thumbnail scaled up for the grid."""
    stored = store_image(tmp_path, Image.new("RGB", (64, 64), "blue"), "x")
    with Image.open(tmp_path / stored.thumbnail_path) as thumbnail:
        assert thumbnail.format == "WEBP"
        assert thumbnail.width >= 192


def test_same_image_stores_once(tmp_path: Path) -> None:
    """Storing identical content twice yields the same path (a redelivered render writes nothing new)."""
    image = Image.new("RGB", (8, 8), "green")
    assert store_image(tmp_path, image, "x") == store_image(tmp_path, image, "x")
    assert len(list(tmp_path.rglob("*.png"))) == 1


def test_webp_and_jpeg_carry_infotext_in_exif_user_comment(tmp_path: Path) -> None:
    """JPEG and WebP hold the infotext as an EXIF UserComment ("UNICODE\\0" + UTF-16), which read_infotext reads."""
    from atelier.storage import EXIF_IFD, USER_COMMENT, encoded_bytes

    text = 'a café, "quoted"\nNegative prompt: ß\nSteps: 2, Sampler: Euler, Seed: 1'
    for kind in ("WEBP", "JPEG"):
        path = tmp_path / f"image.{kind.lower()}"
        path.write_bytes(encoded_bytes(Image.new("RGB", (16, 16), "red"), text, kind))
        with Image.open(path) as image:
            raw = image.getexif().get_ifd(EXIF_IFD)[USER_COMMENT]
        assert raw == b"UNICODE\x00" + text.encode("utf-16-be")
        assert read_infotext(path) == text


def test_little_endian_and_ascii_user_comments_are_read() -> None:
    """Other writers' UserComment encodings (UTF-16LE, ASCII) read back as text."""
    from atelier.storage import read_user_comment

    assert read_user_comment(b"UNICODE\x00" + "Steps: 2".encode("utf-16-le")) == "Steps: 2"
    assert read_user_comment(b"ASCII\x00\x00\x00Steps: 2") == "Steps: 2"
