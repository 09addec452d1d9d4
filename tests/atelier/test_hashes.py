"""Model hashes as A1111 and Civitai show them."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from atelier.hashes import hash_model_file


def _safetensors(path: Path, metadata: dict[str, str], data: bytes) -> None:
    header = json.dumps(
        {"__metadata__": metadata, "w": {"dtype": "U8", "shape": [len(data)], "data_offsets": [0, len(data)]}}
    )
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + data)


def test_autov2_is_the_first_ten_hex_of_the_file_sha256(tmp_path: Path) -> None:
    """AutoV2 = sha256(whole file)[:10]."""
    path = tmp_path / "m.safetensors"
    _safetensors(path, {}, b"\x01\x02\x03")
    hashes = hash_model_file(path)
    assert hashes.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert hashes.autov2 == hashes.sha256[:10]


def test_autov3_ignores_metadata(tmp_path: Path) -> None:
    """AutoV3 hashes tensor data only, so editing metadata keeps it."""
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    _safetensors(first, {"ss_tag_frequency": "{}"}, b"weights")
    _safetensors(second, {"note": "renamed"}, b"weights")
    assert (
        hash_model_file(first).autov3 == hash_model_file(second).autov3 == hashlib.sha256(b"weights").hexdigest()[:12]
    )
    assert hash_model_file(first).autov2 != hash_model_file(second).autov2
