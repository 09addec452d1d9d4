"""The draw form's defaults and error placement."""

from __future__ import annotations

import pytest

from atelier.db import session_scope
from atelier.errors import InvalidInput
from atelier.settings import Settings
from gallery.forms import build_form, native_size


@pytest.mark.parametrize(
    ("name", "size"),
    [("atelier-tiny-v1", 64), ("atelier-tiny", 64), ("tiny-test", 64), ("dreamshaper-8", 512), ("tiny-test-2", 512)],
)
def test_native_size(name: str, size: int) -> None:
    """The bundled tiny models default to 64x64; everything else to 512x512."""
    assert native_size(name) == size


def test_defaults_follow_default_checkpoint(registered: Settings) -> None:
    """The default model is preselected and the size follows it."""
    with session_scope(registered.database_url) as session:
        form = build_form(session, registered)
    assert form.values["checkpoint"] == "tiny-test"
    assert (form.values["width"], form.values["height"]) == ("64", "64")
    assert form.checkpoints == [("tiny-test", 64)]


def test_error_on_unknown_field_is_general(registered: Settings) -> None:
    """An error about something that is not a form field is shown above the form."""
    with session_scope(registered.database_url) as session:
        form = build_form(session, registered, {"prompt": "x"}, InvalidInput("quota", "you have used today's quota"))
    assert form.errors == {}
    assert form.general_error == "quota: you have used today's quota"
    assert form.values["prompt"] == "x"
