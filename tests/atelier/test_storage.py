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
