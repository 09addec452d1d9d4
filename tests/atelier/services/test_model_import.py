"""Importing models into the store: detection, placement, registration, and pickles never opened."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.errors import ModelRefused
from atelier.schema import ModelFile, ModelKind
from atelier.services.model_import import import_model
from tests.helpers import model_files as files

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with session_factory(database_url)() as session:
        yield session


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "models"


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


class _Payload:
    """Unpickling this object creates `marker`: proof that a file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _raw_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}))


def _torch_zip(path: Path, marker: Path) -> None:
    """PyTorch's save format: a zip archive whose data.pkl is the pickle."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"state_dict": _Payload(marker)}))
        archive.writestr("archive/version", "3\n")
    path.write_bytes(buffer.getvalue())


def test_import_places_a_lora_in_its_folder_and_registers_it(session: Session, store: Path, downloads: Path) -> None:
    """Kind and base come from the keys; the row has hashes, size and trigger words."""
    source = files.kohya_lora(downloads / "ink.safetensors", 768, tags={"inkstyle": 30, "portrait": 4})
    model = import_model(session, store, source)
    assert (model.kind, model.name, model.base_arch) == (ModelKind.LORA, "ink", "sd1")
    assert model.file_path == "loras/ink.safetensors" and (store / model.file_path).read_bytes() == source.read_bytes()
    assert model.autov2 == model.sha256[:10] and len(model.autov3 or "") == 12
    assert model.size_bytes == source.stat().st_size and model.trigger_words == ["inkstyle"]


@pytest.mark.parametrize(
    ("build", "kind", "folder"),
    [
        (files.sdxl_checkpoint, ModelKind.CHECKPOINT, "checkpoints"),
        (files.sdxl_embedding, ModelKind.EMBEDDING, "embeddings"),
        (files.vae, ModelKind.VAE, "vae"),
    ],
)
def test_import_detects_the_store_folder_from_the_keys(
    session: Session, store: Path, downloads: Path, build: Callable[[Path], Path], kind: ModelKind, folder: str
) -> None:
    """Without --kind, the keys choose checkpoints/, embeddings/ or vae/."""
    model = import_model(session, store, build(downloads / "thing.safetensors"))
    assert model.kind is kind and (store / folder / "thing.safetensors").is_file()


def test_import_hard_links_on_the_same_filesystem(session: Session, store: Path, downloads: Path) -> None:
    """A source on the store's filesystem is linked, not copied (a 7 GB checkpoint costs nothing)."""
    source = files.sd1_checkpoint(downloads / "base.safetensors")
    model = import_model(session, store, source)
    assert (store / model.file_path).stat().st_ino == source.stat().st_ino


def test_import_copies_when_linking_is_impossible(
    session: Session, store: Path, downloads: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Across filesystems (EXDEV) the file is copied instead."""

    def cross_device(source: str, target: str) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    source = files.sd1_checkpoint(downloads / "base.safetensors")
    model = import_model(session, store, source)
    placed = store / model.file_path
    assert placed.stat().st_ino != source.stat().st_ino and placed.read_bytes() == source.read_bytes()


def test_import_uses_the_given_name_and_kind(session: Session, store: Path, downloads: Path) -> None:
    """--name renames the store file; --kind is checked against the keys."""
    model = import_model(
        session, store, files.embedding(downloads / "e.safetensors", 1024), kind=ModelKind.EMBEDDING, name="sky-v2"
    )
    assert (model.name, model.file_path, model.base_arch) == ("sky-v2", "embeddings/sky-v2.safetensors", "sd2")


def test_first_imported_checkpoint_becomes_default(session: Session, store: Path, downloads: Path) -> None:
    """A store that had no checkpoint gets the imported one as its default."""
    model = import_model(session, store, files.sd1_checkpoint(downloads / "base.safetensors"))
    assert model.is_default


def test_import_of_a_lora_for_the_bundled_model_matches_it(session: Session, store: Path) -> None:
    """The shipped tiny LoRA (width 128) imports as SD1 once the tiny checkpoint is in the store."""
    import_model(session, store, REPO / "models" / "checkpoints" / "atelier-tiny-v1.safetensors")
    model = import_model(session, store, REPO / "models" / "loras" / "atelier-stripes-v1.safetensors")
    assert model.base_arch == "sd1" and model.trigger_words == ["atelierstripes"]


@pytest.mark.parametrize(
    ("file_name", "write"),
    [
        ("model.ckpt", _torch_zip),
        ("model.pt", _raw_pickle),
        ("model.pth", _torch_zip),
        ("model.bin", _raw_pickle),
        ("model.safetensors", _raw_pickle),
        ("model.safetensors", _torch_zip),
    ],
)
def test_import_refuses_pickles_without_ever_unpickling_them(
    session: Session,
    store: Path,
    downloads: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    file_name: str,
    write: Callable[[Path, Path], None],
) -> None:
    """A pickle (by suffix or by its bytes) is refused with how to convert it; its code never runs."""
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_Payload(control)))
    assert control.exists()  # the payload is live: unpickling it does create its marker
    marker = tmp_path / "marker"
    source = downloads / file_name
    write(source, marker)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pickle loader was called")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, never)
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch, "load", never)
    with pytest.raises(ModelRefused, match=r"convert it to .safetensors with a trusted tool in an isolated"):
        import_model(session, store, source)
    assert not marker.exists()
    assert session.query(ModelFile).count() == 0 and not store.exists()


@pytest.mark.parametrize(("build", "name"), [(files.loha, "LoHa"), (files.lokr, "LoKr")])
def test_import_refuses_lycoris(
    session: Session, store: Path, downloads: Path, build: Callable[[Path], Path], name: str
) -> None:
    """LoHa/LoKr are refused at import with what they are; nothing lands in the store."""
    with pytest.raises(ModelRefused, match=f"a LyCORIS {name} network"):
        import_model(session, store, build(downloads / "l.safetensors"))
    assert not store.exists()


def test_import_refuses_a_name_already_registered(session: Session, store: Path, downloads: Path) -> None:
    """A second model under a registered name is refused and suggests --name."""
    import_model(session, store, files.kohya_lora(downloads / "ink.safetensors", 768))
    other = files.kohya_lora(downloads / "other" / "ink.safetensors", 1024)
    with pytest.raises(ModelRefused, match="lora 'ink' is already registered; pass another --name"):
        import_model(session, store, other)


@pytest.mark.parametrize("name", ["../escape", "a/b", "x:y", ".hidden", ""])
def test_import_refuses_names_that_are_not_plain(session: Session, store: Path, downloads: Path, name: str) -> None:
    """Names become file names and prompt tokens: separators, colons and leading dots are refused."""
    with pytest.raises(ModelRefused, match="use 1-120 letters"):
        import_model(session, store, files.kohya_lora(downloads / "ink.safetensors", 768), name=name)
    assert not store.exists()


def test_import_refuses_a_missing_path(session: Session, store: Path, downloads: Path) -> None:
    """A path that does not exist is named in the message."""
    with pytest.raises(ModelRefused, match=r"nothing.safetensors: no such file or folder"):
        import_model(session, store, downloads / "nothing.safetensors")


def test_import_of_a_diffusers_folder_leaves_unused_pickles_behind(
    session: Session, store: Path, downloads: Path
) -> None:
    """A diffusers pipeline is copied whole into checkpoints/, except .bin files beside .safetensors."""
    source = files.diffusers_folder(downloads / "pipe", 1024, act="gelu")
    (source / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04")
    model = import_model(session, store, source)
    assert (model.kind, model.base_arch, model.file_path) == (ModelKind.CHECKPOINT, "sd2", "checkpoints/pipe")
    assert (store / "checkpoints" / "pipe" / "unet" / "config.json").is_file()
    assert not (store / "checkpoints" / "pipe" / "unet" / "diffusion_pytorch_model.bin").exists()


def test_import_of_a_file_already_in_its_store_folder_registers_it_in_place(session: Session, store: Path) -> None:
    """A file a moderator copied into models/loras by hand is registered where it is, not duplicated."""
    source = files.kohya_lora(store / "loras" / "ink.safetensors", 768)
    model = import_model(session, store, source)
    assert model.file_path == "loras/ink.safetensors" and sorted(p.name for p in (store / "loras").iterdir()) == [
        "ink.safetensors"
    ]
