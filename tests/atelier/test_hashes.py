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


def test_second_hash_reads_nothing_from_an_unchanged_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With a cache file, re-hashing an unchanged file (new process, same cache) opens it for no data."""
    from atelier import hashes

    path = tmp_path / "m.safetensors"
    _safetensors(path, {}, b"weights")
    first = hashes.hash_model_file(path, hashes.HashCache(tmp_path / "cache.json"))
    assert not (tmp_path / "cache.json").exists()
    cache = hashes.HashCache(tmp_path / "cache.json")
    hashes.hash_model_file(path, cache)
    cache.save()
    reads: list[Path] = []
    monkeypatch.setattr(hashes, "_sha256_from", lambda p, offset: reads.append(p) or "f" * 64)
    assert hashes.hash_model_file(path, hashes.HashCache(tmp_path / "cache.json")) == first
    assert reads == []


def test_changed_file_is_hashed_again(tmp_path: Path) -> None:
    """A file whose size or mtime changed is re-hashed, not served from the cache."""
    import os

    from atelier.hashes import HashCache

    path = tmp_path / "m.safetensors"
    _safetensors(path, {}, b"weights")
    cache = HashCache(tmp_path / "cache.json")
    before = hash_model_file(path, cache)
    _safetensors(path, {}, b"other weights")
    os.utime(path, ns=(1, 1))
    after = hash_model_file(path, cache)
    assert after.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() != before.sha256


def test_corrupt_cache_file_is_an_empty_cache(tmp_path: Path) -> None:
    """A damaged cache file is ignored rather than failing the scan."""
    from atelier.hashes import HashCache

    (tmp_path / "cache.json").write_text("{not json")
    path = tmp_path / "m.safetensors"
    _safetensors(path, {}, b"weights")
    assert hash_model_file(path, HashCache(tmp_path / "cache.json")).autov2 == hash_model_file(path).autov2
