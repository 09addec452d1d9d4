"""Reading A1111's "parameters" text chunk from a PNG attachment, without decoding the picture.

A1111 and Atelier write the chunk before the image data (PIL writes text chunks ahead of IDAT), so
the download stops at the first IDAT: a "Show parameters" on a 20 MiB render reads a few kilobytes.
Compressed (zTXt) and international (iTXt) chunks are read too, as other tools write those.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator

import aiohttp

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEY = b"parameters"
MAX_DOWNLOAD = 50 * 2**20
MAX_TEXT = 1 << 20


class NotPng(ValueError):
    """The bytes are not a PNG (a JPEG or WebP keeps its infotext in EXIF, which is not read here)."""


def text_chunks(data: bytes) -> tuple[dict[str, str], bool]:
    """The text chunks found in `data` (a PNG or its beginning), and whether the image data was reached
    (nothing after it is read: `data` may stop there)."""
    if not data.startswith(PNG_SIGNATURE[: len(data)]):
        raise NotPng("not a PNG file")
    found: dict[str, str] = {}
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind in (b"IDAT", b"IEND"):
            return found, True
        body = data[offset + 8 : offset + 8 + length]
        if len(body) < length:
            break
        entry = _text(kind, body)
        if entry is not None:
            found.setdefault(*entry)
        offset += 12 + length
    return found, False


def _text(kind: bytes, body: bytes) -> tuple[str, str] | None:
    key, _, rest = body.partition(b"\x00")
    try:
        if kind == b"tEXt":
            return key.decode("latin-1"), rest.decode("latin-1")
        if kind == b"zTXt":
            return key.decode("latin-1"), _inflate(rest[1:]).decode("latin-1")
        if kind == b"iTXt":
            compressed, rest = rest[0], rest[2:]
            _language, _, rest = rest.partition(b"\x00")
            _translated, _, text = rest.partition(b"\x00")
            return key.decode("latin-1"), (_inflate(text) if compressed else text).decode("utf-8")
    except (zlib.error, UnicodeDecodeError, IndexError):
        return None
    return None


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_TEXT)
    return out


def parameters(data: bytes) -> str | None:
    """The "parameters" text of a PNG's bytes, None when it has none."""
    chunks, _ = text_chunks(data)
    return chunks.get(KEY.decode())


async def _chunks_of(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    async for piece in response.content.iter_chunked(64 * 1024):
        yield piece


async def fetch(url: str, timeout: float) -> tuple[str | None, bytes | None]:
    """The "parameters" text of the PNG at `url`, read up to its image data; and the whole file when it
    had none (small enough to recognise a re-posted gallery image by its hash), else None."""
    buffer = bytearray()
    limits = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=limits) as session, session.get(url) as response:
        response.raise_for_status()
        async for piece in _chunks_of(response):
            buffer.extend(piece)
            if len(buffer) > MAX_DOWNLOAD:
                return None, None
            chunks, reached_pixels = text_chunks(bytes(buffer))
            if KEY.decode() in chunks:
                return chunks[KEY.decode()], None
            if reached_pixels and len(buffer) > MAX_DOWNLOAD // 10:
                return None, None  # no text ahead of the pixels and too big to hash for a lookup
    return parameters(bytes(buffer)), bytes(buffer)
