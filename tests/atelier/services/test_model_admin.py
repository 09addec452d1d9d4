"""Moderators enable, disable and choose the default model (the studio always keeps one to draw with),
allow NSFW, edit trigger words, and add models by scanning the store or importing a file; all audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.errors import Forbidden, InvalidInput, ModelRefused, NotFound
from atelier.schema import ModelFile, ModelKind, Role, User
from atelier.services import audit, model_admin
from atelier.services.models import default_checkpoint
from tests.helpers import model_files as files


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    with session_factory(sqlite_url)() as opened:
        for kind, name, default in (
            (ModelKind.CHECKPOINT, "alpha", True),
            (ModelKind.CHECKPOINT, "beta", False),
            (ModelKind.LORA, "alpha", False),
        ):
            opened.add(ModelFile(kind=kind, name=name, file_path=f"{kind.value}/{name}", sha256="0" * 64,
                                 autov2="0" * 10, is_default=default))  # fmt: skip
        opened.commit()
        yield opened


def test_plain_name_prefers_the_checkpoint_and_kind_picks_the_lora(session: Session) -> None:
    """A plain name is the checkpoint; `lora:` names the LoRA of the same name."""
    assert model_admin.info(session, "alpha").kind is ModelKind.CHECKPOINT
    assert model_admin.info(session, "lora:alpha").kind is ModelKind.LORA


def test_unknown_name_suggests_close_ones(session: Session) -> None:
    """A typo is answered with the names it is close to."""
    with pytest.raises(NotFound, match="did you mean beta"):
        model_admin.info(session, "betta")


def test_disabling_the_default_passes_the_role_on(session: Session) -> None:
    """/draw without a model keeps working: another enabled checkpoint becomes the default."""
    model_admin.set_enabled(session, "alpha", False)
    chosen = default_checkpoint(session)
    assert chosen is not None and chosen.name == "beta" and chosen.is_default


def test_the_last_enabled_checkpoint_stays(session: Session) -> None:
    """The only enabled checkpoint cannot be disabled."""
    model_admin.set_enabled(session, "beta", False)
    with pytest.raises(InvalidInput, match="only enabled checkpoint"):
        model_admin.set_enabled(session, "alpha", False)


def test_default_must_be_an_enabled_checkpoint(session: Session) -> None:
    """A disabled checkpoint or a LoRA cannot become the default."""
    model_admin.set_enabled(session, "beta", False)
    with pytest.raises(InvalidInput, match="enable it before"):
        model_admin.set_default(session, "beta")
    with pytest.raises(InvalidInput, match="only a checkpoint"):
        model_admin.set_default(session, "lora:alpha")


def test_set_default_moves_the_mark(session: Session) -> None:
    """Exactly one checkpoint is the default afterwards."""
    model_admin.set_default(session, "beta")
    assert [m.name for m in model_admin.managed_models(session) if m.is_default] == ["beta"]


def test_members_cannot_change_models(session: Session) -> None:
    """A member is refused."""
    member = User(name="bob", role=Role.MEMBER)
    session.add(member)
    session.commit()
    with pytest.raises(Forbidden):
        model_admin.set_enabled(session, "beta", False, member)


def test_changes_are_audited_with_the_moderator(session: Session) -> None:
    moderator = User(name="mo", role=Role.MODERATOR)
    session.add(moderator)
    session.commit()
    model_admin.set_enabled(session, "lora:alpha", False, moderator)
    model_admin.set_default(session, "beta", moderator)
    assert [(e.actor, e.action, e.target) for e in audit.recent(session)] == [
        ("mo", "model.default", "beta"),
        ("mo", "model.disable", "lora:alpha"),
    ]


@pytest.fixture
def moderator(session: Session) -> User:
    user = User(name="mo", role=Role.MODERATOR)
    session.add(user)
    session.commit()
    return user


def test_listed_models_include_embeddings(session: Session) -> None:
    """The gallery's list holds checkpoints, then LoRAs, then embeddings, each with its row id."""
    session.add(
        ModelFile(kind=ModelKind.EMBEDDING, name="bad-hands", file_path="e/b", sha256="1" * 64, autov2="1" * 10)
    )
    session.commit()
    listed = model_admin.listed_models(session)
    assert [m.ref for m in listed] == ["alpha", "beta", "lora:alpha", "embedding:bad-hands"]
    assert model_admin.info_by_id(session, listed[-1].model_id).sha256 == "1" * 64


def test_embeddings_are_named_with_their_kind(session: Session) -> None:
    """`embedding:name` finds an embedding, which can then be disabled like any model."""
    session.add(
        ModelFile(kind=ModelKind.EMBEDDING, name="bad-hands", file_path="e/b", sha256="1" * 64, autov2="1" * 10)
    )
    session.commit()
    assert not model_admin.set_enabled(session, "embedding:bad-hands", False).enabled


def test_unknown_model_id_is_not_found(session: Session) -> None:
    """A row id no model has raises NotFound."""
    with pytest.raises(NotFound, match="model 999"):
        model_admin.info_by_id(session, 999)


def test_nsfw_allowed_toggles_and_is_audited(session: Session, moderator: User) -> None:
    """A moderator allows NSFW on a checkpoint and takes it back; both are in the audit log."""
    assert model_admin.set_nsfw_allowed(session, "beta", True, moderator).nsfw_allowed
    assert not model_admin.set_nsfw_allowed(session, "beta", False, moderator).nsfw_allowed
    assert [e.action for e in audit.recent(session)] == ["model.nsfw_forbid", "model.nsfw_allow"]


def test_members_cannot_allow_nsfw(session: Session) -> None:
    """A member is refused."""
    member = User(name="bob")
    session.add(member)
    session.commit()
    with pytest.raises(Forbidden):
        model_admin.set_nsfw_allowed(session, "beta", True, member)


def test_trigger_words_are_replaced_trimmed_and_deduplicated(session: Session, moderator: User) -> None:
    """Comma-separated words replace the old ones; blanks and repeats in any case are dropped."""
    updated = model_admin.set_trigger_words(session, "lora:alpha", " ink  sketch, , Ink SKETCH, hatching ", moderator)
    assert updated.trigger_words == ["ink sketch", "hatching"]
    assert audit.recent(session)[0].details == "ink sketch, hatching"


def test_empty_trigger_words_clear_them(session: Session) -> None:
    """An empty field leaves the model with no trigger words."""
    model_admin.set_trigger_words(session, "lora:alpha", "ink")
    assert model_admin.set_trigger_words(session, "lora:alpha", "").trigger_words == []


@pytest.mark.parametrize(
    ("words", "message"), [("x" * 101, "limit is 100"), (",".join(map(str, range(21))), "21 words")]
)
def test_trigger_words_have_limits(session: Session, words: str, message: str) -> None:
    """An over-long word or more than 20 words are refused on the trigger_words field."""
    with pytest.raises(InvalidInput, match=message) as refused:
        model_admin.set_trigger_words(session, "lora:alpha", words)
    assert refused.value.field == "trigger_words"


def test_scan_store_registers_new_files_and_audits(session: Session, moderator: User, tmp_path: Path) -> None:
    """A moderator's scan registers a LoRA dropped into the store and logs what it added."""
    files.kohya_lora(tmp_path / "models" / "loras" / "ink.safetensors", 768)
    report = model_admin.scan_store(session, tmp_path / "models", actor=moderator)
    assert report.added == ["lora:ink"]
    assert audit.recent(session)[0].details == "added: lora:ink; refused: 0"


def test_members_cannot_scan(session: Session, tmp_path: Path) -> None:
    """A member's scan is refused before the store is read."""
    member = User(name="bob")
    session.add(member)
    session.commit()
    files.kohya_lora(tmp_path / "models" / "loras" / "ink.safetensors", 768)
    with pytest.raises(Forbidden):
        model_admin.scan_store(session, tmp_path / "models", actor=member)
    assert [m.ref for m in model_admin.listed_models(session)] == ["alpha", "beta", "lora:alpha"]


def test_import_file_registers_and_audits(session: Session, moderator: User, tmp_path: Path) -> None:
    """An imported file is placed in the store, registered under the given name and audited."""
    source = files.kohya_lora(tmp_path / "upload.safetensors", 768)
    imported = model_admin.import_file(session, tmp_path / "models", source, "watercolor", moderator)
    assert (imported.ref, imported.base_arch) == ("lora:watercolor", "sd1")
    assert (tmp_path / "models" / "loras" / "watercolor.safetensors").is_file()
    assert audit.recent(session)[0].action == "model.import"


def test_import_file_refuses_pickles_with_the_import_message(session: Session, moderator: User, tmp_path: Path) -> None:
    """A pickle is refused unopened, with the import service's explanation; nothing is registered."""
    source = tmp_path / "model.ckpt"
    source.write_bytes(b"not opened")
    with pytest.raises(ModelRefused, match="pickle"):
        model_admin.import_file(session, tmp_path / "models", source, "model", moderator)
    assert audit.recent(session) == []
