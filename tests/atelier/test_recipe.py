"""Recipe validation: every bad field is named, nothing is clamped."""

from __future__ import annotations

import pytest

from atelier.errors import InvalidInput
from atelier.recipe import MAX_PROMPT_CHARS, Recipe, parse_recipe


def test_defaults_fill_missing_fields() -> None:
    """A bare prompt gets the documented defaults and a concrete random seed."""
    recipe = parse_recipe({"prompt": "a red circle"}, default_size=64)
    assert (recipe.steps, recipe.cfg_scale, recipe.width, recipe.height, recipe.count) == (20, 7.0, 64, 64, 1)
    assert 0 <= recipe.seed < 2**32


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x", "steps": 0}, "steps"),
        ({"prompt": "x", "steps": 10_000}, "steps"),
        ({"prompt": "x", "steps": "ten"}, "steps"),
        ({"prompt": "x", "width": 100}, "width"),
        ({"prompt": "x", "height": 4096}, "height"),
        ({"prompt": "x" * 20_000}, "prompt"),
        ({"prompt": "x", "cfg_scale": "nan"}, "cfg_scale"),
        ({"prompt": "x", "count": 5}, "count"),
        ({"prompt": "x", "sampler": "Warp drive"}, "sampler"),
        ({"prompt": "x", "seed": -5}, "seed"),
        ({"prompt": "lone \ud800 surrogate"}, "prompt"),
        ({"prompt": "x", "negative_prompt": "n" * (MAX_PROMPT_CHARS + 1)}, "negative_prompt"),
        ({"prompt": "x", "schedule_type": "Beta"}, "schedule_type"),
        ({"prompt": "x", "sampler": "Euler a", "schedule_type": "Karras"}, "schedule_type"),
        ({"prompt": "x", "clip_skip": 0}, "clip_skip"),
        ({"prompt": "x", "clip_skip": 13}, "clip_skip"),
        ({"prompt": "x", "emphasis": "Loud"}, "emphasis"),
        ({"prompt": "x", "init_image": "../../etc/passwd"}, "init_image"),
        ({"prompt": "x", "init_image": "42", "denoising_strength": 1.5}, "denoising_strength"),
        ({"prompt": "x", "denoising_strength": 0.5}, "denoising_strength"),
        ({"prompt": "x", "hires": "maybe"}, "hires"),
        ({"prompt": "x", "hires": True, "hires_scale": 5}, "hires_scale"),
        ({"prompt": "x", "hires": True, "hires_scale": 4, "width": 1024, "height": 1024}, "hires_scale"),
        ({"prompt": "x", "hires_steps": -1}, "hires_steps"),
        ({"prompt": "x", "hires_denoise": 2}, "hires_denoise"),
        ({"prompt": "x", "hires": True, "init_image": "42"}, "hires"),
        ({"prompt": "x", "loras": [{"name": "a", "weight": 1000}]}, "loras"),
        ({"prompt": "x", "loras": "detail"}, "loras"),
        ({"prompt": "x", "embeddings": [{"hash": "abc"}]}, "embeddings"),
    ],
)
def test_bad_input_names_the_field(data: dict[str, object], field: str) -> None:
    """Each out-of-bounds or malformed value raises InvalidInput for that field."""
    with pytest.raises(InvalidInput) as caught:
        parse_recipe(data)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_batch_seeds_count_up_from_the_seed() -> None:
    """Image i of a batch uses seed + i, so each can be re-rendered alone."""
    assert Recipe(prompt="x", seed=2**32 - 1, count=3).seeds() == [2**32 - 1, 0, 1]


def test_json_round_trip() -> None:
    """A recipe stored as JSON on a job reads back equal."""
    recipe = parse_recipe({"prompt": "a blue star", "seed": 5, "steps": "12"})
    assert Recipe.from_json(recipe.to_json()) == recipe


def test_new_fields_default_to_a1111_defaults() -> None:
    """Schedule type Automatic, clip skip 1, Original emphasis, txt2img, no hires, no networks."""
    recipe = parse_recipe({"prompt": "x"})
    assert (recipe.schedule_type, recipe.clip_skip, recipe.emphasis) == ("Automatic", 1, "Original")
    assert (recipe.denoising_strength, recipe.init_image, recipe.hires, recipe.loras) == (None, "", False, ())


def test_img2img_fields_are_checked_and_kept() -> None:
    """An init image by content address gets a denoising strength (0.75 unless given)."""
    address = "ab/" + "ab" * 32 + ".png"
    assert parse_recipe({"prompt": "x", "init_image": address}).denoising_strength == 0.75
    recipe = parse_recipe({"prompt": "x", "init_image": "17", "denoising_strength": "0.3"})
    assert (recipe.init_image, recipe.denoising_strength) == ("17", 0.3)


def test_full_recipe_json_round_trip() -> None:
    """Every new field, LoRAs and embeddings included, survives JSON storage."""
    import json

    recipe = parse_recipe({
        "prompt": "<lora:detail:0.5> x", "sampler": "DPM++ 2M Karras", "clip_skip": 2, "emphasis": "No norm",
        "hires": "true", "hires_scale": 1.5, "hires_steps": 5, "hires_denoise": 0.4, "seed": 1,
        "loras": [{"name": "detail", "weight": 0.5, "hash": "0b8a5c1f2e3d"}], "embeddings": [{"name": "neg"}],
    })  # fmt: skip
    assert (recipe.sampler, recipe.schedule_type) == ("DPM++ 2M", "Karras")
    assert Recipe.from_json(json.loads(json.dumps(recipe.to_json()))) == recipe


def test_recipes_stored_by_older_code_still_read() -> None:
    """A job recipe written before schedule types existed reads back, its combined sampler split."""
    stored = {"prompt": "x", "negative_prompt": "", "checkpoint": "tiny", "sampler": "DPM++ 2M Karras",
              "steps": 20, "cfg_scale": 7.0, "width": 64, "height": 64, "seed": 3, "count": 1, "extra": {}}  # fmt: skip
    recipe = Recipe.from_json(stored)
    assert (recipe.sampler, recipe.schedule_type, recipe.clip_skip, recipe.loras) == ("DPM++ 2M", "Karras", 1, ())
