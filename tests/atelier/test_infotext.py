"""A1111 infotext: what Atelier writes, A1111's reader reads back, and A1111's own infotext parses."""

from __future__ import annotations

import pytest

from atelier.errors import InvalidInput
from atelier.infotext import build_infotext, format_infotext, parse_infotext, parse_infotext_fields
from atelier.recipe import EmbeddingUse, LoraUse, Recipe, parse_recipe


def test_layout_matches_a1111() -> None:
    """Prompt, negative line, then the parameters line in A1111's key order."""
    recipe = Recipe(prompt="a red circle", negative_prompt="blurry", steps=20, cfg_scale=7.0, width=64, height=64)
    text = build_infotext(recipe, seed=42, model_name="atelier-tiny-v1", model_hash="0123456789")
    assert text == (
        "a red circle\nNegative prompt: blurry\n"
        "Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 42, Size: 64x64, "
        "Model hash: 0123456789, Model: atelier-tiny-v1, Version: atelier"
    )


def test_optional_keys_in_a1111_order_and_quoting() -> None:
    """Denoising strength, Clip skip, hires keys, quoted Lora/TI hashes and Emphasis come in A1111's order."""
    recipe = Recipe(
        prompt="<lora:detail:0.8> cat", sampler="DPM++ 2M", schedule_type="Karras", clip_skip=2, emphasis="No norm",
        hires=True, hires_scale=1.5, hires_steps=10, hires_denoise=0.55,
        loras=(LoraUse("detail", 0.8, None, "0b8a5c1f2e3d"),), embeddings=(EmbeddingUse("easyneg", "abcdef012345"),),
    )  # fmt: skip
    line = format_infotext(recipe, seed=1, model_name="m", model_hash="h").split("\n")[-1]
    assert line == (
        "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x512, "
        "Model hash: h, Model: m, Denoising strength: 0.55, Clip skip: 2, Hires upscale: 1.5, Hires steps: 10, "
        'Hires upscaler: Latent, Lora hashes: "detail: 0b8a5c1f2e3d", TI hashes: "easyneg: abcdef012345", '
        "Emphasis: No norm, Version: atelier"
    )


def test_fields_keep_multiline_prompts_and_quoted_values() -> None:
    """Multi-line prompts and values with commas survive a write and a read."""
    recipe = Recipe(prompt="line one,\nline two", steps=9, cfg_scale=4.5, width=128, height=64)
    parsed = parse_infotext_fields(build_infotext(recipe, seed=3, model_name="m, with comma", model_hash="abc"))
    assert parsed["Prompt"] == "line one,\nline two"
    assert parsed["Negative prompt"] == ""
    assert (parsed["Steps"], parsed["CFG scale"], parsed["Seed"]) == ("9", "4.5", "3")
    assert (parsed["Size-1"], parsed["Size-2"]) == ("128", "64")
    assert parsed["Model"] == "m, with comma"


def test_text_without_parameters_is_all_prompt() -> None:
    """A last line with fewer than three parameters is prompt text, as in A1111."""
    assert parse_infotext_fields("just a prompt\nsecond line")["Prompt"] == "just a prompt\nsecond line"


A1111_MODERN = (
    "masterpiece, <lora:detail:0.6> portrait of a cat,\nsoft light, (film grain:1.2)\n"
    "Negative prompt: lowres, blurry\nbad hands\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, Size: 512x768, "
    'Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "detail: 0b8a5c1f2e3d", '
    'TI hashes: "easynegative: c74b4e810b03", Version: v1.10.1'
)
A1111_OLD = (
    "a castle on a hill\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 99, Size: 512x512, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2, ENSD: 31337"
)
A1111_HIRES = (
    "a fox\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 5, Size: 512x512, "
    "Model hash: 6ce0161689, Model: sd15, Denoising strength: 0.45, Hires upscale: 2, Hires steps: 12, "
    "Hires upscaler: Latent, Emphasis: Ignore, Version: v1.9.4"
)


def test_modern_a1111_infotext_parses_into_a_recipe() -> None:
    """A 1.9+ infotext with multi-line prompts and quoted Lora/TI hashes becomes the right Recipe."""
    recipe = parse_infotext(A1111_MODERN)
    assert recipe.prompt == "masterpiece, <lora:detail:0.6> portrait of a cat,\nsoft light, (film grain:1.2)"
    assert recipe.negative_prompt == "lowres, blurry\nbad hands"
    assert (recipe.sampler, recipe.schedule_type, recipe.steps, recipe.cfg_scale) == ("DPM++ 2M", "Karras", 28, 6.5)
    assert (recipe.seed, recipe.width, recipe.height, recipe.checkpoint) == (1234, 512, 768, "v1-5-pruned-emaonly")
    assert recipe.loras == (LoraUse("detail", 0.6, None, "0b8a5c1f2e3d"),)
    assert recipe.embeddings == (EmbeddingUse("easynegative", "c74b4e810b03"),)
    assert (recipe.clip_skip, recipe.emphasis, recipe.hires) == (1, "Original", False)


def test_old_combined_sampler_form_parses() -> None:
    """`Sampler: DPM++ 2M Karras` (before 1.9) splits; unknown keys stay in extra under A1111 names."""
    recipe = parse_infotext(A1111_OLD)
    assert (recipe.sampler, recipe.schedule_type, recipe.clip_skip) == ("DPM++ 2M", "Karras", 2)
    assert recipe.extra == {"ENSD": "31337"}


def test_hires_infotext_parses() -> None:
    """Hires upscale/steps and the Denoising strength of the hires pass, and Emphasis, are read."""
    recipe = parse_infotext(A1111_HIRES)
    assert (recipe.hires, recipe.hires_scale, recipe.hires_steps, recipe.hires_denoise) == (True, 2.0, 12, 0.45)
    assert (recipe.emphasis, recipe.denoising_strength, recipe.extra) == ("Ignore", None, {})


def test_out_of_bounds_infotext_is_refused_by_field() -> None:
    """An infotext outside Atelier's bounds raises InvalidInput naming the field."""
    with pytest.raises(InvalidInput) as caught:
        parse_infotext(A1111_OLD.replace("Steps: 20", "Steps: 500"))
    assert caught.value.field == "steps"


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": "a red circle", "seed": 3},
        {"prompt": "line one,\nline: two", "negative_prompt": "blurry, bad", "sampler": "DPM++ 2M SDE Karras",
         "cfg_scale": 4.5, "width": 128, "height": 64, "seed": 7, "clip_skip": 3, "emphasis": "No norm"},
        {"prompt": "<lora:detail:0.8:0.5> cat", "sampler": "Euler", "schedule_type": "SGM Uniform", "seed": 1,
         "hires": True, "hires_scale": 1.5, "hires_steps": 7, "hires_denoise": 0.3,
         "loras": [{"name": "detail", "weight": 0.8, "unet_weight": 0.5, "hash": "0b8a5c1f2e3d"}],
         "embeddings": [{"name": "easyneg", "hash": "abcdef012345"}]},
    ],
)  # fmt: skip
def test_our_infotext_round_trips(fields: dict[str, object]) -> None:
    """Our infotext parses back into the same recipe."""
    recipe = parse_recipe({**fields, "checkpoint": "tiny-test"})
    text = format_infotext(recipe, seed=recipe.seed, model_name="tiny-test", model_hash="0123456789")
    assert parse_infotext(text) == recipe
