"""Model suggestions, size presets and gallery references: the pure rules behind the command options."""

from __future__ import annotations

import pytest

from atelier.errors import InvalidInput
from bot.choices import MAX_CHOICES, ModelChoice, aspect_size, model_choices, parse_image_ref, parse_size, size_presets


def test_model_choices_stay_within_25_and_filter_on_what_is_typed() -> None:
    """Hundreds of checkpoints give 25 suggestions, all containing what the member typed."""
    models = [ModelChoice(f"model-{n:03d}", "sd1", False) for n in range(300)]
    choices = model_choices(models, "model-1")
    assert len(choices) == MAX_CHOICES
    assert all("model-1" in value for _, value in choices)
    assert [value for _, value in model_choices(models, "model-299")] == ["model-299"]


def test_warm_models_are_marked_and_come_first() -> None:
    """A checkpoint a worker holds loaded carries ● and is suggested before cold ones."""
    models = [ModelChoice("alpha", "sd1", False), ModelChoice("beta", "sdxl", True)]
    assert model_choices(models, "") == [("● beta (sdxl)", "beta"), ("alpha (sd1)", "alpha")]


def test_names_starting_with_the_text_come_before_names_containing_it() -> None:
    """Typing "real" suggests "realistic" before "surreal"."""
    models = [ModelChoice("surreal", "sd1", True), ModelChoice("realistic", "sd1", False)]
    assert [value for _, value in model_choices(models, "REAL")] == ["realistic", "surreal"]


@pytest.mark.parametrize("native", [64, 512, 768, 1024])
def test_aspect_presets_are_multiples_of_8_within_the_native_area(native: int) -> None:
    """Every preset keeps to the model's native pixel area, in multiples of 8."""
    for _, aspect in size_presets(native):
        width, height = aspect_size(aspect, native)
        assert width % 8 == 0 and height % 8 == 0
        assert width * height <= native * native


def test_presets_follow_the_native_edge() -> None:
    """1:1 is the native size; 3:2 at 1024 is wider than tall and near the SDXL area."""
    assert aspect_size("1:1", 512) == (512, 512)
    assert aspect_size("3:2", 1024) == (1248, 832)
    assert aspect_size("9:16", 512) == (384, 680)


def test_presets_too_small_for_the_recipe_are_not_offered() -> None:
    """A 64-pixel model is offered 1:1 only: every other aspect would have a side under 64."""
    assert size_presets(64) == [("1:1 — 64x64", "1:1")]


def test_size_accepts_an_explicit_width_and_height() -> None:
    """A typed "768x512" is taken as is (the recipe checks its bounds)."""
    assert parse_size("768x512", 512) == (768, 512)
    assert parse_size("3:2 — 624x416", 512) == (624, 416)


def test_unknown_size_is_refused_naming_the_option() -> None:
    """Words that are neither a preset nor WxH are refused with the option named."""
    with pytest.raises(InvalidInput) as caught:
        parse_size("huge", 512)
    assert caught.value.field == "size"


@pytest.mark.parametrize("text", ["42", "#42", "https://atelier.example/images/42", "<http://x/images/42/>"])
def test_image_reference_by_id_or_link(text: str) -> None:
    """A gallery image is named by its id or by a link to its page."""
    assert parse_image_ref(text) == 42


def test_image_reference_that_is_neither_is_refused() -> None:
    """Anything else gets a sentence naming the option."""
    with pytest.raises(InvalidInput) as caught:
        parse_image_ref("a cat")
    assert caught.value.field == "image"
