"""Moderators enable, disable and choose the default model; the studio always keeps one to draw with."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.errors import Forbidden, InvalidInput, NotFound
from atelier.schema import ModelFile, ModelKind, Role, User
from atelier.services import audit, model_admin
from atelier.services.models import default_checkpoint


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
