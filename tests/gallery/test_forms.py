"""The draw form's defaults and error placement."""

from __future__ import annotations

from sqlalchemy import select

from atelier.db import session_scope
from atelier.errors import InvalidInput
from atelier.schema import ModelFile, ModelKind
from atelier.settings import Settings
from gallery.forms import build_form


def test_defaults_follow_default_checkpoint(registered: Settings) -> None:
    """The default model is preselected and the size follows it."""
    with session_scope(registered.database_url) as session:
        form = build_form(session)
    assert form.values["checkpoint"] == "tiny-test"
    assert (form.values["width"], form.values["height"]) == ("64", "64")
    assert form.checkpoints == [("tiny-test", 64)]


def test_error_on_unknown_field_is_general(registered: Settings) -> None:
    """An error about something that is not a form field is shown above the form."""
    with session_scope(registered.database_url) as session:
        form = build_form(session, {"prompt": "x"}, InvalidInput("quota", "you have used today's quota"))
    assert form.errors == {}
    assert form.general_error == "quota: you have used today's quota"
    assert form.values["prompt"] == "x"


def test_sizes_follow_each_checkpoints_stored_native_size(registered: Settings) -> None:
    """An SDXL checkpoint made default offers 1024x1024, the size detected when it was imported."""
    with session_scope(registered.database_url) as session:
        for model in session.scalars(select(ModelFile)):
            model.is_default = False
        session.add(
            ModelFile(
                kind=ModelKind.CHECKPOINT,
                name="big-xl",
                file_path="checkpoints/big-xl.safetensors",
                sha256="1" * 64,
                autov2="1" * 10,
                base_arch="sdxl",
                native_size=1024,
                is_default=True,
            )
        )
        session.commit()
        form = build_form(session)
    assert (form.values["checkpoint"], form.values["width"], form.values["height"]) == ("big-xl", "1024", "1024")
    assert ("big-xl", 1024) in form.checkpoints
