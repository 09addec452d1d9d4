"""The model registry: scanning the store, refusing pickles, resolving names."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.errors import InvalidInput
from atelier.schema import ModelFile, ModelKind
from atelier.services.models import resolve_checkpoint, scan
from atelier.settings import Settings
from tests.helpers import model_files as files

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with session_factory(database_url)() as session:
        yield session


def _rows(session: Session) -> dict[tuple[str, str], ModelFile]:
    return {(m.kind.value, m.name): m for m in session.query(ModelFile)}


def test_scan_registers_checkpoints_with_hashes_and_native_size(settings: Settings) -> None:
    """A diffusers folder is registered enabled, default, hashed, with its training size."""
    with session_factory(settings.database_url)() as session:
        report = scan(session, settings.paths.models_dir, "tiny-test")
        model = session.query(ModelFile).one()
    assert report.added == ["tiny-test"]
    assert model.enabled and model.is_default and len(model.sha256) == 64 and model.autov2 == model.sha256[:10]
    assert model.native_size == 64  # the test pipeline: 32-latent UNet, VAE factor 2
    assert model.base_arch == "sd1"  # tiny width 16, but OpenAI CLIP's quick_gelu


def test_scan_refuses_pickle_files(settings: Settings, tmp_path: Path) -> None:
    """A .ckpt in the store is listed as refused and never registered."""
    store = tmp_path / "store"
    (store / "checkpoints").mkdir(parents=True)
    (store / "checkpoints" / "old.ckpt").write_bytes(b"\x80\x04not really a pickle")
    with session_factory(settings.database_url)() as session:
        report = scan(session, store)
        assert session.query(ModelFile).count() == 0
    assert report.refused and "safetensors" in report.refused[0]


def test_scan_twice_adds_nothing(registered: Settings) -> None:
    """A second scan knows the checkpoint already."""
    with session_factory(registered.database_url)() as session:
        report = scan(session, registered.paths.models_dir)
    assert report.added == [] and report.known == ["tiny-test"]


def test_unknown_checkpoint_suggests_close_names(registered: Settings) -> None:
    """A misspelt model name is refused with the closest enabled names."""
    with session_factory(registered.database_url)() as session, pytest.raises(InvalidInput) as caught:
        resolve_checkpoint(session, "tiny_tst")
    assert caught.value.field == "checkpoint" and "tiny-test" in caught.value.reason


def test_scan_registers_the_shipped_lora_with_its_trigger_word_and_the_embedding(settings: Settings) -> None:
    """LoRAs and embeddings in the store are registered; a kohya LoRA's trigger word comes from its metadata."""
    store = Path(__file__).resolve().parents[3] / "models"
    with session_factory(settings.database_url)() as session:
        scan(session, store)
        rows = {(m.kind.value, m.name): m for m in session.query(ModelFile)}
    assert rows[("lora", "atelier-stripes-v1")].trigger_words == ["atelierstripes"]
    assert len(rows[("lora", "atelier-stripes-v1")].autov3 or "") == 12
    assert ("embedding", "ateliersun") in rows and ("checkpoint", "atelier-tiny-v1") in rows


def test_scan_registers_the_shipped_models_as_sd1(session: Session) -> None:
    """The bundled tiny checkpoint (context 128), its LoRA and its embedding all register as SD1."""
    scan(session, REPO / "models")
    archs = {key: m.base_arch for key, m in _rows(session).items()}
    assert archs == {
        ("checkpoint", "atelier-tiny-v1"): "sd1",
        ("lora", "atelier-stripes-v1"): "sd1",
        ("embedding", "ateliersun"): "sd1",
    }


def test_scan_detects_each_checkpoint_base_from_its_header(session: Session, tmp_path: Path) -> None:
    """SD1, SD2 and SDXL single files get their base and that base's usual native size."""
    files.sd1_checkpoint(tmp_path / "checkpoints" / "one.safetensors")
    files.sd2_checkpoint(tmp_path / "checkpoints" / "two.safetensors")
    files.sdxl_checkpoint(tmp_path / "checkpoints" / "xl.safetensors")
    scan(session, tmp_path)
    found = {m.name: (m.base_arch, m.native_size) for m in session.query(ModelFile)}
    assert found == {"one": ("sd1", 512), "two": ("sd2", 768), "xl": ("sdxl", 1024)}


def test_scan_detects_lora_and_embedding_bases(session: Session, tmp_path: Path) -> None:
    """LoRAs and embeddings get their base from widths and key layout, not a fixed sd1."""
    files.kohya_lora(tmp_path / "loras" / "style2.safetensors", 1024)
    files.kohya_lora(tmp_path / "loras" / "stylexl.safetensors", 768, sdxl=True)
    files.sdxl_embedding(tmp_path / "embeddings" / "neg.safetensors")
    scan(session, tmp_path)
    archs = {key: m.base_arch for key, m in _rows(session).items()}
    assert archs == {("lora", "style2"): "sd2", ("lora", "stylexl"): "sdxl", ("embedding", "neg"): "sdxl"}


def test_scan_registers_vaes(session: Session, tmp_path: Path) -> None:
    """A VAE in models/vae is registered as a VAE with its hashes."""
    files.vae(tmp_path / "vae" / "kl-f8.safetensors")
    report = scan(session, tmp_path)
    model = session.query(ModelFile).one()
    assert report.added == ["vae:kl-f8"] and model.kind is ModelKind.VAE and len(model.autov3 or "") == 12


def test_scan_skips_lycoris_with_the_reason(session: Session, tmp_path: Path) -> None:
    """A LoHa in models/loras is not registered; the report says why."""
    files.loha(tmp_path / "loras" / "fancy.safetensors")
    report = scan(session, tmp_path)
    assert session.query(ModelFile).count() == 0
    assert report.refused == [
        "loras/fancy.safetensors: a LyCORIS LoHa network (hada_w1_a weights); the workers apply kohya LoRA and "
        "LoCon only, so re-train or extract it as a standard LoRA"
    ]


def test_scan_refuses_a_pickle_named_safetensors(session: Session, tmp_path: Path) -> None:
    """A pickle renamed to .safetensors is refused by its first bytes, not registered."""
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "sneaky.safetensors").write_bytes(pickle.dumps({"w": 1}))
    report = scan(session, tmp_path)
    assert session.query(ModelFile).count() == 0
    assert report.refused[0].startswith("checkpoints/sneaky.safetensors: named .safetensors but is a Python pickle")


def test_scan_refuses_a_model_in_the_wrong_folder(session: Session, tmp_path: Path) -> None:
    """A checkpoint dropped into models/loras is refused, saying what it is."""
    files.sd1_checkpoint(tmp_path / "loras" / "big.safetensors")
    report = scan(session, tmp_path)
    assert report.refused == ["loras/big.safetensors: looks like a checkpoint, not a LoRA"]


def test_scan_refuses_a_diffusers_folder_with_pickle_only_weights(session: Session, tmp_path: Path) -> None:
    """A diffusers component with only .bin weights would be torch.load-ed, so the folder is refused."""
    folder = files.diffusers_folder(tmp_path / "checkpoints" / "old-pipe", 768)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04")
    report = scan(session, tmp_path)
    assert session.query(ModelFile).count() == 0
    assert report.refused[0].startswith("checkpoints/old-pipe/unet has only pickle weights; convert it")
