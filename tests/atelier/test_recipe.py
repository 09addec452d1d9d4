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
