"""PromptError carries the field, the position and a readable excerpt."""

from __future__ import annotations

from atelier.errors import InvalidInput
from atelier.prompt import PromptError


def test_message_names_the_field_the_character_and_an_excerpt() -> None:
    """The message is '<field>: <detail> (at character N: "...")' with a 1-based character."""
    error = PromptError("prompt", "bad weight", 3, "a (b:x)")
    assert isinstance(error, InvalidInput) and error.field == "prompt" and error.position == 3
    assert str(error) == 'prompt: bad weight (at character 4: "a (b:x)")'


def test_long_texts_are_shortened_around_the_position() -> None:
    """Only a dozen characters either side of the position are quoted."""
    error = PromptError("prompt", "here", 50, "x" * 100)
    assert '"…' + "x" * 24 + '…"' in str(error)
