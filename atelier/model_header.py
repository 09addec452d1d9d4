"""Reading what a model file is without loading it: pickle refusal and the safetensors JSON header.

Pickle files (`.ckpt`, `.pt`, `.pth`, `.bin`, and PyTorch's zip format) run code when they are
opened, so they are refused by name and by their first bytes, and nothing here ever hands a file
to `pickle` or `torch.load`. A safetensors file is 8 bytes of header length, a JSON header with each
tensor's dtype, shape and byte range, then raw data: the header alone tells the layout (key names,
shapes), so detecting a model costs one small read, not gigabytes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from atelier.errors import ModelRefused

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
CONVERT_HINT = (
    "convert it to .safetensors with a trusted tool in an isolated environment (a throwaway container or VM "
    "with no secrets: loading a pickle runs the code inside it), then import the .safetensors file"
)
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format's own limit
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Header:
    """A safetensors header: tensor shapes by key, and the free-form string metadata."""

    shapes: dict[str, list[int]]
    metadata: dict[str, str] = field(default_factory=dict)

    def keys_with(self, *parts: str) -> Iterator[str]:
        """Keys containing every one of `parts`, in sorted order (stable choices across files)."""
        return (key for key in sorted(self.shapes) if all(part in key for part in parts))


def pickle_refusal(label: str) -> ModelRefused:
    return ModelRefused(f"{label}: pickle files can run code when loaded, so Atelier never opens them; {CONVERT_HINT}")


def _pickle_kind(first: bytes) -> str | None:
    """What the first bytes say the file really is, when that is a pickle (PyTorch zip or raw)."""
    if first.startswith(_ZIP_MAGIC):
        return "a zip archive (PyTorch's pickle format)"
    if len(first) >= 2 and first[0] == 0x80 and 2 <= first[1] <= 5:
        return "a Python pickle"
    return None


def read_header(path: Path, label: str | None = None) -> Header:
    """The header of a `.safetensors` file, or `ModelRefused` saying why the file is not one.

    `label` names the file in messages (a store-relative path reads better than an absolute one)."""
    label = label or path.name
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise pickle_refusal(label)
    if path.suffix.lower() != ".safetensors":
        raise ModelRefused(f"{label}: only .safetensors files and diffusers folders are accepted")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            first = handle.read(9)
            if first.startswith(_ZIP_MAGIC):
                raise ModelRefused(f"{label}: named .safetensors but is {_pickle_kind(first)}; {CONVERT_HINT}")
            length = struct.unpack("<Q", first[:8])[0] if len(first) >= 8 else 0
            plausible = 2 <= length <= min(MAX_HEADER_BYTES, size - 8) and first[8:9] == b"{"
            raw = handle.read(length - 1) if plausible else b""
    except OSError as error:
        raise ModelRefused(f"{label}: cannot be read ({error.strerror or error})") from error
    header = _parse(first[8:9] + raw, size - 8 - length) if plausible else None
    if header is None:
        found = _pickle_kind(first)
        if found is not None:
            raise ModelRefused(f"{label}: named .safetensors but is {found}; {CONVERT_HINT}")
        raise ModelRefused(f"{label}: not a valid safetensors file (its header is missing or damaged)")
    return header


def _parse(raw: bytes, data_bytes: int) -> Header | None:
    """Check the header as safetensors does: JSON object, each tensor with a shape and a byte range
    inside the data. Anything else is not a safetensors file (None)."""
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(parsed, dict):
        return None
    metadata = parsed.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        return None
    shapes: dict[str, list[int]] = {}
    for key, entry in parsed.items():
        if not isinstance(entry, dict):
            return None
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            return None
        if not (isinstance(offsets, list) and len(offsets) == 2 and 0 <= offsets[0] <= offsets[1] <= data_bytes):
            return None
        shapes[key] = shape
    return Header(shapes=shapes, metadata={str(k): str(v) for k, v in metadata.items()})


def folder_pickle_problem(folder: Path, label: str) -> str | None:
    """Why a diffusers folder cannot be used safely, or None.

    diffusers loads `.bin` weights with `torch.load` when a component has no `.safetensors` file, so
    such a component is refused; a `.bin` beside a `.safetensors` is never read and is not copied."""
    for component in sorted({p.parent for p in folder.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES}):
        if not any(component.glob("*.safetensors")):
            where = component.relative_to(folder).as_posix() or "."
            return f"{label}/{where} has only pickle weights; {CONVERT_HINT}"
    for weights in sorted(folder.rglob("*.safetensors")):
        try:
            read_header(weights, f"{label}/{weights.relative_to(folder).as_posix()}")
        except ModelRefused as refused:
            return refused.message
    return None
