"""Image files: content-addressed PNGs with A1111 infotext, and WebP thumbnails made at render time.

Names come from the sha256 of the PNG bytes, never from user input, so no request can choose a
path, and a redelivered render that produces the same image writes the same file.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

THUMBNAIL_EDGE = 384


@dataclass(frozen=True)
class StoredImage:
    file_path: str
    thumbnail_path: str
    width: int
    height: int


def _write_atomically(target: Path, data: bytes) -> None:
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(target.suffix + f".{os.getpid()}.tmp")
    temp.write_bytes(data)
    os.replace(temp, target)


def png_bytes(image: Image.Image, infotext: str) -> bytes:
    info = PngInfo()
    info.add_text("parameters", infotext)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def store_image(images_dir: Path, image: Image.Image, infotext: str) -> StoredImage:
    """Write the PNG and its thumbnail; returns paths relative to `images_dir`."""
    data = png_bytes(image, infotext)
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(digest[:2]) / f"{digest}.png"
    _write_atomically(images_dir / relative, data)

    thumbnail = image.convert("RGB")
    thumbnail.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    if thumbnail.width < THUMBNAIL_EDGE // 2:
        # Tiny renders (the bundled 64x64 model) would be a blur in the grid: scale up crisply.
        factor = max(1, (THUMBNAIL_EDGE // 2) // thumbnail.width)
        thumbnail = thumbnail.resize((thumbnail.width * factor, thumbnail.height * factor), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="WEBP", quality=85)
    thumb_relative = Path(digest[:2]) / f"{digest}.webp"
    _write_atomically(images_dir / thumb_relative, buffer.getvalue())
    return StoredImage(str(relative), str(thumb_relative), image.width, image.height)


def read_infotext(path: Path) -> str | None:
    with Image.open(path) as image:
        value = image.info.get("parameters")
    return value if isinstance(value, str) else None
