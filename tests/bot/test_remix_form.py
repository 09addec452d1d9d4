"""The remix form's values: parsed into recipe changes, bad numbers refused by name."""

from __future__ import annotations

import pytest

from atelier.errors import InvalidInput
from bot.remix import form_changes, submitted_values

FORM = {"prompt": "a cat", "negative": "blurry", "seed": "42", "steps": "12", "cfg": "6.5"}


def test_form_values_become_recipe_changes() -> None:
    """Prompt, negative, seed, steps and CFG map onto the recipe's fields."""
    assert form_changes(FORM) == {
        "prompt": "a cat", "negative_prompt": "blurry", "seed": 42, "steps": 12, "cfg_scale": 6.5
    }  # fmt: skip


@pytest.mark.parametrize("seed", ["", "-1", "random"])
def test_an_empty_seed_asks_for_a_new_one(seed: str) -> None:
    """Clearing the seed (or -1) renders with a new random seed."""
    assert form_changes({**FORM, "seed": seed})["seed"] == -1


def test_a_bad_number_names_its_input() -> None:
    """Steps that are not a number are refused naming steps."""
    with pytest.raises(InvalidInput) as caught:
        form_changes({**FORM, "steps": "many"})
    assert caught.value.field == "steps"


def test_values_are_read_from_rows_and_labels() -> None:
    """Text inputs inside action rows and inside labels are both read."""
    data = {
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "prompt", "value": "a cat"}]},
            {"type": 18, "component": {"type": 4, "custom_id": "seed", "value": "7"}},
        ]
    }
    assert submitted_values(data) == {"prompt": "a cat", "seed": "7"}
