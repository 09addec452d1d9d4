"""/mod/models over HTTP: the list with every model's facts, the switches, trigger words, a scan of the
models folder and the upload of a .safetensors file (pickles and other files refused, with why)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import ModelFile, ModelKind, Role
from atelier.settings import Settings, load_settings
from gallery.app import create_app
from tests.gallery.factories import add_model
from tests.gallery.routes.test_moderation import audit_actions, log_in_as
from tests.helpers import model_files as files


@pytest.fixture
def moderator(registered: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(registered), follow_redirects=False) as client:
        log_in_as(client, registered, "Mo", Role.MODERATOR)
        yield client


@pytest.fixture
def store(registered: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose model store is this test's own empty folder (the shared tiny store stays as is)."""
    monkeypatch.setenv("ATELIER_MODELS_DIR", str(tmp_path / "store"))
    return load_settings()


@pytest.fixture
def store_moderator(store: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(store), follow_redirects=False) as client:
        log_in_as(client, store, "Mo", Role.MODERATOR)
        yield client


def model(settings: Settings, kind: ModelKind, name: str) -> ModelFile:
    with session_scope(settings.database_url) as session:
        row = session.scalar(select(ModelFile).where(ModelFile.kind == kind, ModelFile.name == name))
        assert row is not None
        session.expunge(row)
        return row


def test_list_shows_every_kind_with_its_facts(moderator: TestClient, registered: Settings) -> None:
    """Checkpoints, LoRAs and embeddings are listed with base, AutoV2, size and trigger words."""
    add_model(registered, ModelKind.LORA, "ink", trigger_words=["ink sketch"], autov2="1a2b3c4d5e")
    add_model(registered, ModelKind.EMBEDDING, "bad-hands", base_arch="sdxl")
    html = moderator.get("/mod/models").text
    assert 'data-model="tiny-test"' in html and 'data-model="lora:ink"' in html
    assert 'data-model="embedding:bad-hands"' in html and ">sdxl</td>" in html
    assert "1a2b3c4d5e" in html and 'value="ink sketch"' in html and "151.0 MB" in html


@pytest.mark.parametrize(
    ("action", "field", "expected"),
    [("disable", "enabled", False), ("allow-nsfw", "nsfw_allowed", True)],
)
def test_switches_change_the_model(
    moderator: TestClient, registered: Settings, action: str, field: str, expected: bool
) -> None:
    """Disable and Allow NSFW change the row, confirm, and are audited."""
    model_id = add_model(registered, ModelKind.LORA, "ink")
    response = moderator.post(f"/mod/models/{model_id}/{action}")
    assert response.status_code == 303 and response.headers["location"].startswith("/mod/models?done=")
    assert getattr(model(registered, ModelKind.LORA, "ink"), field) is expected
    assert len(audit_actions(registered)) == 1


def test_make_default_moves_the_default(moderator: TestClient, registered: Settings) -> None:
    """Make default gives the role to the chosen enabled checkpoint."""
    model_id = add_model(registered, ModelKind.CHECKPOINT, "other")
    assert moderator.post(f"/mod/models/{model_id}/default").headers["location"] == "/mod/models?done=default"
    assert model(registered, ModelKind.CHECKPOINT, "other").is_default
    assert not model(registered, ModelKind.CHECKPOINT, "tiny-test").is_default


def test_refused_switch_shows_the_services_message(moderator: TestClient, registered: Settings) -> None:
    """Disabling the only enabled checkpoint re-shows the list with why (422) and changes nothing."""
    tiny = model(registered, ModelKind.CHECKPOINT, "tiny-test")
    response = moderator.post(f"/mod/models/{tiny.id}/disable")
    assert response.status_code == 422 and "the only enabled checkpoint" in response.text
    assert model(registered, ModelKind.CHECKPOINT, "tiny-test").enabled


def test_trigger_words_are_saved(moderator: TestClient, registered: Settings) -> None:
    """The trigger words field replaces the model's words."""
    model_id = add_model(registered, ModelKind.LORA, "ink", trigger_words=["old"])
    response = moderator.post(f"/mod/models/{model_id}/trigger-words", data={"trigger_words": "ink sketch, hatching"})
    assert response.headers["location"] == "/mod/models?done=triggers"
    assert model(registered, ModelKind.LORA, "ink").trigger_words == ["ink sketch", "hatching"]


@pytest.mark.parametrize("path", ["/mod/models/999999/enable", "/mod/models/1/explode", "/mod/models/x/enable"])
def test_unknown_model_or_action_is_a_404(moderator: TestClient, path: str) -> None:
    """An id no model has, a word that is no action, or an id that is no number: 404, never a 500."""
    assert moderator.post(path).status_code == 404


def test_scan_registers_a_lora_dropped_in_the_folder(store_moderator: TestClient, store: Settings) -> None:
    """Scan finds a LoRA copied into models/loras, registers it and says so."""
    files.kohya_lora(store.paths.models_dir / "loras" / "ink.safetensors", 768)
    response = store_moderator.post("/mod/models/scan")
    assert response.status_code == 200 and "Scanned the models folder: added lora:ink." in response.text
    assert model(store, ModelKind.LORA, "ink").base_arch == "sd1"


def test_scan_lists_what_it_refused(store_moderator: TestClient, store: Settings) -> None:
    """A pickle in the folder is named among the refused files, unopened."""
    (store.paths.models_dir / "checkpoints").mkdir(parents=True)
    (store.paths.models_dir / "checkpoints" / "old.ckpt").write_bytes(b"never opened")
    html = store_moderator.post("/mod/models/scan").text
    assert 'data-role="scan-refused"' in html and "old.ckpt: pickle files can run code" in html


def upload(client: TestClient, filename: str, data: bytes, **fields: str) -> str:
    response = client.post("/mod/models/upload", files={"file": (filename, data)}, data=fields)
    assert response.status_code in (200, 413, 422), response.text
    return response.text


def test_upload_imports_a_safetensors_lora(store_moderator: TestClient, store: Settings, tmp_path: Path) -> None:
    """An uploaded LoRA is placed in models/loras under the given name, registered and audited."""
    data = files.kohya_lora(tmp_path / "download.safetensors", 768).read_bytes()
    html = upload(store_moderator, "download.safetensors", data, name="watercolor")
    assert "Imported download.safetensors as lora &#39;watercolor&#39; (sd1)." in html
    assert (store.paths.models_dir / "loras" / "watercolor.safetensors").read_bytes() == data
    assert audit_actions(store) == ["model.import"]
    assert not list(store.paths.models_dir.glob(".upload-*"))


def test_upload_name_defaults_to_the_file_name(store_moderator: TestClient, store: Settings, tmp_path: Path) -> None:
    """Without a name the model is called after the uploaded file."""
    data = files.kohya_lora(tmp_path / "x.safetensors", 768).read_bytes()
    upload(store_moderator, "ink-pen.safetensors", data)
    assert model(store, ModelKind.LORA, "ink-pen").file_path == "loras/ink-pen.safetensors"


def test_upload_refuses_a_pickle_with_the_import_message(store_moderator: TestClient, store: Settings) -> None:
    """A .ckpt is refused with the import service's explanation; nothing lands in the store."""
    html = upload(store_moderator, "model.ckpt", b"\x80\x04never opened")
    assert "model.ckpt: pickle files can run code when loaded" in html
    assert not any(path.is_file() for path in store.paths.models_dir.rglob("*"))


def test_upload_refuses_other_extensions(store_moderator: TestClient, store: Settings) -> None:
    """Only .safetensors files are taken."""
    assert "only .safetensors files can be uploaded" in upload(store_moderator, "notes.txt", b"hello")


def test_upload_refuses_a_damaged_file_with_the_reason(store_moderator: TestClient, store: Settings) -> None:
    """A .safetensors that is not one is refused (422) with the header reader's message about the uploaded
    file, never a server path."""
    response = store_moderator.post("/mod/models/upload", files={"file": ("broken.safetensors", b"garbage!")})
    assert response.status_code == 422
    assert "broken.safetensors: not a valid safetensors file" in response.text
    assert str(store.paths.models_dir) not in response.text and audit_actions(store) == []


def test_upload_over_the_cap_is_refused_before_reading(store_moderator: TestClient) -> None:
    """A declared length over the cap is answered 413 naming the limit."""
    response = store_moderator.post(
        "/mod/models/upload",
        content=b"x",
        headers={"content-type": "multipart/form-data; boundary=x", "content-length": str(9 * 2**30)},
    )
    assert response.status_code == 413 and "8 GiB limit" in response.text


def test_upload_without_a_file_asks_for_one(store_moderator: TestClient) -> None:
    """A form with no file is answered with what to send (422)."""
    response = store_moderator.post("/mod/models/upload", files={"name": (None, "x")})
    assert response.status_code == 422 and "choose a .safetensors file" in response.text
