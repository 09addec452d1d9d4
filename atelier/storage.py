"""Image files: content-addressed PNGs with A1111 infotext, and WebP thumbnails made at render time.

Infotext goes where A1111 puts it (tech notes §2.1): the PNG text chunk `parameters`, or for JPEG and WebP
the EXIF UserComment, written as "UNICODE\\0" + UTF-16 big-endian text (what piexif's
`UserComment.dump(..., encoding="unicode")` produces) with Pillow alone.

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


def write_atomically(target: Path, data: bytes) -> None:
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


EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
_UNICODE = b"UNICODE\x00"
_ASCII = b"ASCII\x00\x00\x00"


def user_comment(text: str) -> bytes:
    """An EXIF UserComment holding `text` the way A1111 writes it."""
    return _UNICODE + text.encode("utf-16-be")


def read_user_comment(raw: bytes) -> str | None:
    """The text of an EXIF UserComment (UNICODE, ASCII or undefined 8-byte code)."""
    code, body = raw[:8], raw[8:]
    if code == _UNICODE:
        # Big-endian per the EXIF spec; some writers use little-endian, recognisable by a BOM or by
        # ASCII text having its zero bytes second.
        if body.startswith(b"\xff\xfe") or (len(body) > 1 and body[0] != 0 and body[1] == 0):
            return body.decode("utf-16-le", errors="replace").lstrip("\ufeff")
        return body.decode("utf-16-be", errors="replace").lstrip("\ufeff")
    if code == _ASCII or code == b"\x00" * 8:
        return body.decode("latin-1").rstrip("\x00")
    return None


def encoded_bytes(image: Image.Image, infotext: str, image_format: str, **options: object) -> bytes:
    """`image` encoded as PNG, WEBP or JPEG with the infotext where A1111 looks for it."""
    buffer = io.BytesIO()
    kind = image_format.upper()
    if kind == "PNG":
        return png_bytes(image, infotext)
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = user_comment(infotext)
    picture = image.convert("RGB") if kind == "JPEG" else image
    picture.save(buffer, format=kind, exif=exif.tobytes(), **options)
    return buffer.getvalue()


def store_image(images_dir: Path, image: Image.Image, infotext: str) -> StoredImage:
    """Write the PNG and its thumbnail; returns paths relative to `images_dir`."""
    data = png_bytes(image, infotext)
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(digest[:2]) / f"{digest}.png"
    write_atomically(images_dir / relative, data)

    thumbnail = image.convert("RGB")
    thumbnail.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    if thumbnail.width < THUMBNAIL_EDGE // 2:
        # Tiny renders (the bundled 64x64 model) would be a blur in the grid: scale up crisply.
        factor = max(1, (THUMBNAIL_EDGE // 2) // thumbnail.width)
        thumbnail = thumbnail.resize((thumbnail.width * factor, thumbnail.height * factor), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="WEBP", quality=85)
    thumb_relative = Path(digest[:2]) / f"{digest}.webp"
    write_atomically(images_dir / thumb_relative, buffer.getvalue())
    return StoredImage(str(relative), str(thumb_relative), image.width, image.height)


def read_infotext(path: Path) -> str | None:
    """The infotext of a PNG (`parameters` text chunk) or a JPEG/WebP (EXIF UserComment), else None."""
    with Image.open(path) as image:
        value = image.info.get("parameters")
        if isinstance(value, str):
            return value
        raw = image.getexif().get_ifd(EXIF_IFD).get(USER_COMMENT)
    if isinstance(raw, bytes):
        return read_user_comment(raw)
    return raw if isinstance(raw, str) and raw else None
