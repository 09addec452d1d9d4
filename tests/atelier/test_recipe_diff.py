"""Recipe diffs: prompt terms and weights as A1111 reads them, LoRAs, and every setting."""

from __future__ import annotations

from dataclasses import replace

from atelier.recipe import LoraUse, Recipe
from atelier.recipe_diff import (
    Reweighted,
    WeightedTerm,
    diff_prompts,
    diff_recipes,
    format_weight,
    prompt_terms,
)

BASE = Recipe(
    prompt="a red circle, masterpiece, (blue background:1.2) <lora:paper:0.8>",
    negative_prompt="blurry",
    checkpoint="tiny-test",
    seed=42,
    loras=(LoraUse("paper", 0.8, hash="abcdef012345"),),
)


def test_identical_recipes_give_an_empty_diff() -> None:
    """The same recipe twice changes nothing, and the diff says so."""
    diff = diff_recipes(BASE, replace(BASE))
    assert diff.empty and not diff
    assert not diff.prompt and not diff.negative_prompt and diff.loras == () and diff.settings == ()


def test_changed_weight_is_one_reweighted_term() -> None:
    """`red` becoming `(red:1.3)` is a weight change old→new, not a removal plus an addition."""
    diff = diff_prompts("a red circle", "a (red:1.3) circle")
    assert diff.reweighted == (Reweighted("red", 1.0, 1.3),)
    assert diff.added == () and diff.removed == ()


def test_bracket_weights_follow_a1111_arithmetic() -> None:
    """`[blue]` is 1/1.1 and `((x))` is 1.21, as A1111 computes them."""
    diff = diff_prompts("blue, x", "[blue], ((x))")
    changes = {change.text: (change.before, change.after) for change in diff.reweighted}
    assert format_weight(changes["blue"][1]) == "0.91"
    assert format_weight(changes["x"][1]) == "1.21"


def test_weight_dropped_back_to_one() -> None:
    """Removing emphasis shows the old weight going to 1."""
    diff = diff_prompts("(blue background:1.2)", "blue background")
    assert diff.reweighted == (Reweighted("blue background", 1.2, 1.0),)


def test_tokens_added_and_removed() -> None:
    """Phrases only one side has are added or removed, with their weight on that side."""
    diff = diff_prompts("a red circle, masterpiece", "a red circle, (best quality:1.1), sharp")
    assert diff.removed == (WeightedTerm("masterpiece"),)
    assert diff.added == (WeightedTerm("best quality", 1.1), WeightedTerm("sharp"))
    assert diff.added[0].weighted and not diff.added[1].weighted


def test_reordering_and_case_are_not_changes() -> None:
    """Moving a tag or changing its case changes nothing CLIP sees."""
    assert not diff_prompts("cat, Dog, (sky:1.2)", "(sky:1.2), dog, cat")


def test_lora_tags_are_not_prompt_terms() -> None:
    """`<lora:…>` tags are cut out of the text; LoRAs are compared on their own."""
    assert prompt_terms("a cat <lora:paper:0.8>, dog") == [(("a", "cat"), (1.0, 1.0)), (("dog",), (1.0,))]
    assert not diff_prompts("a cat <lora:paper:0.8>", "a cat <lora:paper:0.5>")


def test_break_is_a_term() -> None:
    """Adding BREAK changes how the prompt is chunked, so it shows as added."""
    assert diff_prompts("a cat, dog", "a cat BREAK dog").added == (WeightedTerm("BREAK"),)


def test_lora_weight_change() -> None:
    """The same LoRA at another weight is one change with both weights."""
    after = replace(BASE, loras=(LoraUse("paper", 0.5, hash="abcdef012345"),))
    (change,) = diff_recipes(BASE, after).loras
    assert change.kind == "changed"
    assert change.before is not None and change.after is not None
    assert (change.before.weight, change.after.weight) == (0.8, 0.5)


def test_lora_added_and_removed() -> None:
    """A LoRA only the new recipe has is added; one it dropped is removed."""
    after = replace(BASE, loras=(LoraUse("ink"),))
    changes = {change.name: change.kind for change in diff_recipes(BASE, after).loras}
    assert changes == {"ink": "added", "paper": "removed"}


def test_lora_names_compare_without_case() -> None:
    """`Paper` and `paper` name the same registered LoRA."""
    after = replace(BASE, loras=(LoraUse("Paper", 0.8, hash="abcdef012345"),))
    assert diff_recipes(BASE, after).loras == ()


def test_lora_from_another_file_is_a_change() -> None:
    """Same name, same weight, another hash: a different file was used."""
    after = replace(BASE, loras=(LoraUse("paper", 0.8, hash="999999999999"),))
    assert [change.kind for change in diff_recipes(BASE, after).loras] == ["changed"]


def test_seed_checkpoint_and_sampling_settings() -> None:
    """Seed, checkpoint, sampler, steps, CFG and size each show before and after."""
    after = replace(BASE, seed=7, checkpoint="other", sampler="DDIM", steps=30, cfg_scale=5.5, width=768)
    diff = diff_recipes(BASE, after)
    shown = {change.name: (change.before, change.after) for change in diff.settings}
    assert shown == {
        "seed": ("42", "7"),
        "checkpoint": ("tiny-test", "other"),
        "sampler": ("Euler a", "DDIM"),
        "steps": ("20", "30"),
        "cfg_scale": ("7", "5.5"),
        "size": ("512x512", "768x512"),
    }
    assert not diff.prompt and diff.loras == ()


def test_img2img_denoise() -> None:
    """A remix from a picture shows its init image and denoise; a denoise change shows old→new."""
    child = replace(BASE, init_image="12", denoising_strength=0.6)
    change = diff_recipes(BASE, child).setting("denoising_strength")
    assert change is not None and (change.before, change.after) == ("—", "0.6")
    again = diff_recipes(child, replace(child, denoising_strength=0.35)).setting("denoising_strength")
    assert again is not None and (again.before, again.after) == ("0.6", "0.35")


def test_negative_prompt_is_diffed_separately() -> None:
    """A negative prompt change is not mixed into the positive prompt's diff."""
    diff = diff_recipes(BASE, replace(BASE, negative_prompt="blurry, lowres"))
    assert not diff.prompt
    assert diff.negative_prompt.added == (WeightedTerm("lowres"),)


def test_unparsable_weight_falls_back_to_text() -> None:
    """An old recipe with a weight A1111 cannot read is compared as plain text, not an error."""
    assert diff_prompts("(cat:abc)", "(cat:abc), dog").added == (WeightedTerm("dog"),)
