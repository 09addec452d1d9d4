"""Reading safetensors headers, and refusing pickles by name and by their first bytes."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import pytest

from atelier.errors import ModelRefused
from atelier.model_header import folder_pickle_problem, read_header
from tests.helpers.model_files import diffusers_folder, write


def test_header_gives_shapes_and_metadata(tmp_path: Path) -> None:
    """Shapes and string metadata come from the JSON header of a file the safetensors library wrote."""
    path = write(tmp_path / "m.safetensors", {"a.weight": [3, 5], "b": []}, {"note": "hi"})
    header = read_header(path)
    assert header.shapes == {"a.weight": [3, 5], "b": []} and header.metadata == {"note": "hi"}


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".pth", ".bin", ".CKPT"])
def test_pickle_suffix_is_refused_without_reading_the_file(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pickle suffix is refused by name alone: the file is never opened."""
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"\x80\x04payload")

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("the pickle file was opened")

    monkeypatch.setattr(Path, "open", no_open)
    monkeypatch.setattr("builtins.open", no_open)
    with pytest.raises(ModelRefused, match=r"never opens them; convert it to .safetensors"):
        read_header(path)


def test_pickle_bytes_named_safetensors_are_refused(tmp_path: Path) -> None:
    """A raw pickle renamed to .safetensors is recognised by its protocol header."""
    path = tmp_path / "renamed.safetensors"
    path.write_bytes(pickle.dumps({"state_dict": list(range(100))}, protocol=4))
    with pytest.raises(ModelRefused, match=r"renamed.safetensors: named .safetensors but is a Python pickle"):
        read_header(path)


def test_torch_zip_named_safetensors_is_refused(tmp_path: Path) -> None:
    """PyTorch's zip format (archive/data.pkl) renamed to .safetensors is refused by its zip magic."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": 1}))
    path = tmp_path / "zipped.safetensors"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ModelRefused, match="a zip archive"):
        read_header(path)


def test_damaged_header_is_refused(tmp_path: Path) -> None:
    """A header whose tensor byte range runs past the end of the file is not a safetensors file."""
    header = b'{"w": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}}'
    path = tmp_path / "cut.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\x00\x00")
    with pytest.raises(ModelRefused, match="not a valid safetensors file"):
        read_header(path)


def test_other_suffix_is_refused(tmp_path: Path) -> None:
    """Only .safetensors single files are accepted."""
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx")
    with pytest.raises(ModelRefused, match=r"only .safetensors files and diffusers folders"):
        read_header(path)


def test_folder_with_pickle_only_component_is_a_problem(tmp_path: Path) -> None:
    """A diffusers component that has only .bin weights would be torch.load-ed, so it is named."""
    folder = diffusers_folder(tmp_path / "pipe", 768)
    (folder / "vae").mkdir()
    (folder / "vae" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04")
    assert "pipe/vae has only pickle weights" in (folder_pickle_problem(folder, "pipe") or "")


def test_folder_with_bin_beside_safetensors_is_fine(tmp_path: Path) -> None:
    """A .bin next to a .safetensors is never read by diffusers, so the folder is accepted."""
    folder = diffusers_folder(tmp_path / "pipe", 768)
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04")
    assert folder_pickle_problem(folder, "pipe") is None


def test_folder_with_disguised_pickle_is_a_problem(tmp_path: Path) -> None:
    """A component's .safetensors that is really a pickle is caught inside folders too."""
    folder = diffusers_folder(tmp_path / "pipe", 768)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(pickle.dumps([1, 2, 3]))
    problem = folder_pickle_problem(folder, "pipe") or ""
    assert "pipe/unet/diffusion_pytorch_model.safetensors: named .safetensors but is a Python pickle" in problem
