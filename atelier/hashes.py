"""Model file hashes as A1111 and Civitai show them, so a member can look a model up by hash.

AutoV2 is the first 10 hex digits of the whole file's sha256 (infotext "Model hash"); AutoV3 is the
first 12 hex digits of the sha256 of a safetensors file's tensor data, without its header (used
for LoRA hashes, and stable when only metadata changes).

Hashing a 2-7 GB checkpoint takes seconds to minutes, so results are cached in a small JSON file under the
data dir, keyed by resolved path and checked against size and mtime (as A1111's `cache.json` does): a
re-scan reads no unchanged file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_BLOCK = 1 << 20


@dataclass(frozen=True)
class FileHashes:
    sha256: str
    autov2: str
    autov3: str | None


def _sha256_from(path: Path, offset: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        handle.seek(offset)
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def safetensors_data_offset(path: Path) -> int:
    """Byte offset where tensor data begins: 8 bytes of header length, then the JSON header."""
    with path.open("rb") as handle:
        raw = handle.read(8)
    if len(raw) < 8:
        raise ValueError(f"{path.name} is too short to be a safetensors file")
    header_length: int = struct.unpack("<Q", raw)[0]
    return 8 + header_length


class HashCache:
    """Hashes by (path, size, mtime); a missing or corrupt cache file is an empty cache."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.entries: dict[str, dict[str, Any]] = {}
        if file is not None:
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(file.read_text())
                if isinstance(loaded, dict):
                    self.entries = {k: v for k, v in loaded.items() if isinstance(v, dict)}

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int]:
        stat = path.stat()
        return str(path.resolve()), stat.st_size, stat.st_mtime_ns

    def lookup(self, path: Path, field: str) -> str | None:
        key, size, mtime = self._key(path)
        entry = self.entries.get(key)
        if entry is None or entry.get("size") != size or entry.get("mtime_ns") != mtime:
            return None
        value = entry.get(field)
        return value if isinstance(value, str) else None

    def store(self, path: Path, **values: str) -> None:
        key, size, mtime = self._key(path)
        entry = self.entries.get(key)
        if entry is None or entry.get("size") != size or entry.get("mtime_ns") != mtime:
            entry = self.entries[key] = {"size": size, "mtime_ns": mtime}
        entry.update(values)

    def save(self) -> None:
        if self.file is None:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        temp = self.file.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(self.entries, indent=1, sort_keys=True))
        os.replace(temp, self.file)


def _cached(cache: HashCache | None, path: Path, field: str, offset: int | None = None) -> str:
    found = cache.lookup(path, field) if cache is not None else None
    if found is None:
        start = safetensors_data_offset(path) if offset is None else offset
        found = _sha256_from(path, start)
        if cache is not None:
            cache.store(path, **{field: found})
    return found


def hash_model_file(path: Path, cache: HashCache | None = None) -> FileHashes:
    full = _cached(cache, path, "sha256", 0)
    autov3 = None
    if path.suffix == ".safetensors":
        autov3 = _cached(cache, path, "data_sha256")[:12]
    return FileHashes(sha256=full, autov2=full[:10], autov3=autov3)


def hash_directory(path: Path, cache: HashCache | None = None) -> FileHashes:
    """A diffusers folder has no single file: hash its weight files in a stable order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(_cached(cache, file, "sha256", 0).encode())
    full = digest.hexdigest()
    return FileHashes(sha256=full, autov2=full[:10], autov3=None)
