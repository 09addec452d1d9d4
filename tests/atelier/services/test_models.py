"""The model registry: scanning the store, refusing pickles, resolving names."""

from __future__ import annotations

from pathlib import Path

import pytest

from atelier.db import session_factory
from atelier.errors import InvalidInput
from atelier.schema import ModelFile
from atelier.services.models import resolve_checkpoint, scan
from atelier.settings import Settings


def test_scan_registers_checkpoints_with_hashes_and_native_size(settings: Settings) -> None:
    """A diffusers folder is registered enabled, default, hashed, with its training size."""
    with session_factory(settings.database_url)() as session:
        report = scan(session, settings.paths.models_dir, "tiny-test")
        model = session.query(ModelFile).one()
    assert report.added == ["tiny-test"]
    assert model.enabled and model.is_default and len(model.sha256) == 64 and model.autov2 == model.sha256[:10]
    assert model.native_size == 64  # the test pipeline: 32-latent UNet, VAE factor 2


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
