"""The bot's texts: within Discord's limits, user text shown as typed, errors named as typed."""

from __future__ import annotations

from atelier.errors import InvalidInput, NotFound
from bot import messages

RECIPE = {"prompt": "a red circle", "seed": 7, "steps": 4, "sampler": "Euler a", "checkpoint": "tiny-test"}


def test_long_prompt_fits_in_one_message() -> None:
    """A 4000-character prompt is clipped so the result message stays within 2000 characters."""
    text = messages.result({**RECIPE, "prompt": "cat " * 1000}, [7])
    assert len(text) <= messages.MESSAGE_LIMIT
    assert "seed 7" in text


def test_prompt_markdown_is_shown_literally() -> None:
    """Markdown in a prompt is escaped so it cannot restyle or hide the message."""
    text = messages.result({**RECIPE, "prompt": "**bold** ||secret||"}, [7])
    assert "\\*\\*bold\\*\\*" in text and "\\|\\|secret\\|\\|" in text


def test_input_error_names_the_option_the_user_typed() -> None:
    """An error about `negative_prompt` names the /draw option `negative`."""
    text = messages.input_error(InvalidInput("negative_prompt", "contains a NUL character"))
    assert text.startswith("❌ **negative**:") and "NUL" in text


def test_other_errors_show_their_message() -> None:
    """A non-field error is shown with its own message."""
    assert "job 9 does not exist" in messages.input_error(NotFound("job 9 does not exist"))


def test_batch_lists_every_seed() -> None:
    """A batch's message lists the seed of each image."""
    assert "seeds 7, 8" in messages.result({**RECIPE, "count": 2}, [7, 8])


def test_parameters_come_in_a_code_block() -> None:
    """Infotext is shown in a fenced block, and a fence inside it cannot close the block early."""
    text = messages.parameters("a ```cat```\nSteps: 4, Seed: 7")
    assert text is not None and text.startswith("```\n") and text.endswith("\n```")
    assert text.count("```") == 2


def test_parameters_too_long_for_a_message() -> None:
    """Infotext longer than a message asks for a file instead of being cut."""
    assert messages.parameters("cat " * 600) is None


def test_rendering_shows_the_step() -> None:
    """Progress reads as Midjourney's does: step of total."""
    assert messages.rendering(5, 20) == "rendering — step 5/20"
