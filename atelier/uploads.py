"""Init images that members upload for img2img: checked, re-encoded, stored by content address.

An upload is untrusted bytes. It is refused before decoding when the body is over `MAX_UPLOAD_BYTES`,
when the format is not PNG, JPEG or WebP, or when its header declares more than `MAX_UPLOAD_PIXELS`
(a decompression bomb: a few KB that would decode to gigabytes). What passes is decoded once and
written back as a plain PNG without the original's metadata, under the sha256 of those bytes, so the
name is never chosen by the uploader and the same picture uploaded twice is stored once. The stored
address is what a recipe's `init_image` names.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from atelier.errors import InvalidInput
from atelier.storage import write_atomically

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 2048 * 2048
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")
FIELD = "init_image"


@dataclass(frozen=True)
class Upload:
    address: str
    """Relative to the images dir: `ab/<sha256>.png`."""
    width: int
    height: int


def store_upload(images_dir: Path, data: bytes) -> Upload:
    """Check and store an uploaded picture; raises `InvalidInput` on the `init_image` field otherwise."""
    if len(data) > MAX_UPLOAD_BYTES:
        size, limit = len(data) / 2**20, MAX_UPLOAD_BYTES // 2**20
        raise InvalidInput(FIELD, f"the file is {size:.1f} MiB; the limit is {limit} MiB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS)) as source:
                width, height = source.size
                if width * height > MAX_UPLOAD_PIXELS:
                    raise InvalidInput(
                        FIELD, f"the picture is {width}x{height}; the limit is {MAX_UPLOAD_PIXELS} pixels in all"
                    )
                source.load()
                picture = source.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(FIELD, f"declares a picture far over the {MAX_UPLOAD_PIXELS} pixel limit") from None
    except UnidentifiedImageError:
        raise InvalidInput(FIELD, "is not a PNG, JPEG or WebP picture this gallery can read") from None
    except (OSError, SyntaxError, ValueError):  # truncated or corrupt data
        raise InvalidInput(FIELD, "the picture is damaged or incomplete") from None
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    encoded = buffer.getvalue()
    digest = hashlib.sha256(encoded).hexdigest()
    address = f"{digest[:2]}/{digest}.png"
    write_atomically(images_dir / address, encoded)
    return Upload(address, width, height)
