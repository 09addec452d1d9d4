"""Model file hashes as A1111 and Civitai show them, so a member can look a model up by hash.

AutoV2 is the first 10 hex digits of the whole file's sha256 (infotext "Model hash"); AutoV3 is the
first 12 hex digits of the sha256 of a safetensors file's tensor data, without its header (used
for LoRA hashes, and stable when only metadata changes).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

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


def hash_model_file(path: Path) -> FileHashes:
    full = _sha256_from(path, 0)
    autov3 = None
    if path.suffix == ".safetensors":
        autov3 = _sha256_from(path, safetensors_data_offset(path))[:12]
    return FileHashes(sha256=full, autov2=full[:10], autov3=autov3)


def hash_directory(path: Path) -> FileHashes:
    """A diffusers folder has no single file: hash its weight files in a stable order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(_sha256_from(file, 0).encode())
    full = digest.hexdigest()
    return FileHashes(sha256=full, autov2=full[:10], autov3=None)
