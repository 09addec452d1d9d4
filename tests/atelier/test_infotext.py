"""A1111 infotext: what Atelier writes, A1111's reader reads back."""

from __future__ import annotations

from atelier.infotext import build_infotext, parse_infotext
from atelier.recipe import Recipe


def test_layout_matches_a1111() -> None:
    """Prompt, negative line, then the parameters line in A1111's key order."""
    recipe = Recipe(prompt="a red circle", negative_prompt="blurry", steps=20, cfg_scale=7.0, width=64, height=64)
    text = build_infotext(recipe, seed=42, model_name="atelier-tiny-v1", model_hash="0123456789")
    assert text == (
        "a red circle\nNegative prompt: blurry\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 64x64, "
        "Model hash: 0123456789, Model: atelier-tiny-v1, Version: atelier"
    )


def test_round_trip_keeps_multiline_prompts_and_quoted_values() -> None:
    """Multi-line prompts and values with commas survive a write and a read."""
    recipe = Recipe(prompt="line one,\nline two", steps=9, cfg_scale=4.5, width=128, height=64)
    parsed = parse_infotext(build_infotext(recipe, seed=3, model_name="m, with comma", model_hash="abc"))
    assert parsed["Prompt"] == "line one,\nline two"
    assert parsed["Negative prompt"] == ""
    assert (parsed["Steps"], parsed["CFG scale"], parsed["Seed"]) == ("9", "4.5", "3")
    assert (parsed["Size-1"], parsed["Size-2"]) == ("128", "64")
    assert parsed["Model"] == "m, with comma"


def test_text_without_parameters_is_all_prompt() -> None:
    """A last line with fewer than three parameters is prompt text, as in A1111."""
    assert parse_infotext("just a prompt\nsecond line")["Prompt"] == "just a prompt\nsecond line"
