"""Extra-network tags are cut from the text and returned as structured items (tech notes §1.6)."""

from __future__ import annotations

import pytest

from atelier.prompt import PromptError, parse_prompt


def test_lora_tag_is_removed_and_returned() -> None:
    """<lora:name:0.7> leaves the text and becomes an item with te = unet = 0.7."""
    parsed = parse_prompt("a <lora:ink:0.7>cat")
    assert parsed.text == "a cat"
    (ref,) = parsed.networks
    assert (ref.kind, ref.name, ref.te_weight, ref.unet_weight, ref.dyn) == ("lora", "ink", 0.7, 0.7, None)
    assert ref.position == 2


def test_weight_defaults_to_one() -> None:
    """<lora:name> alone has weight 1.0."""
    assert parse_prompt("<lora:ink> cat").networks[0].te_weight == 1.0


def test_separate_te_and_unet_weights() -> None:
    """<lora:name:te:unet:dyn> sets both multipliers and the dyn dim."""
    ref = parse_prompt("<lora:ink:0.5:0.9:8> cat").networks[0]
    assert (ref.te_weight, ref.unet_weight, ref.dyn) == (0.5, 0.9, 8)


def test_named_arguments() -> None:
    """te= and unet= name the multipliers."""
    ref = parse_prompt("<lora:ink:unet=0.3:te=0.6> cat").networks[0]
    assert (ref.te_weight, ref.unet_weight) == (0.6, 0.3)


def test_lyco_is_an_alias_of_lora() -> None:
    """<lyco:…> is read as a LoRA."""
    assert parse_prompt("<lyco:ink:0.4> cat").networks[0].kind == "lora"


def test_tags_inside_brackets_are_removed_too() -> None:
    """Tags are cut before scheduling, so they never reach the text encoder."""
    parsed = parse_prompt("[<lora:ink:1>cat:dog:3]", steps=6)
    assert [entry.text for entry in parsed.schedule] == ["cat", "dog"] and parsed.networks[0].name == "ink"


@pytest.mark.parametrize(
    ("text", "words", "position"),
    [
        ("a <lora:ink:lots>", "not a number", 2),
        ("a <lora::1>", "names no LoRA", 2),
        ("a <lora:ink:1:1:1:1:1>", "too many parts", 2),
        ("a <lora:ink:bad=1>", "unknown option", 2),
        ("a <lora:ink:500>", "out of range", 2),
        ("a <lora:ink:1:1:0>", "dyn", 2),
        ("a <hypernet:old:1>", "not an extra network Atelier supports", 2),
    ],
)
def test_malformed_tags_are_refused(text: str, words: str, position: int) -> None:
    """A tag that cannot be honoured raises with the position of its '<'."""
    with pytest.raises(PromptError) as caught:
        parse_prompt(text)
    assert words in caught.value.reason and caught.value.position == position


def test_lora_twice_is_refused() -> None:
    """The same LoRA named twice is an error at the second tag."""
    with pytest.raises(PromptError) as caught:
        parse_prompt("<lora:ink:1> a <lora:ink:0.5>")
    assert caught.value.position == 15 and "twice" in caught.value.reason


def test_lora_in_the_negative_prompt_is_refused() -> None:
    """LoRAs apply to the whole image, so a tag in the negative prompt is an error for that field."""
    with pytest.raises(PromptError) as caught:
        parse_prompt("ugly <lora:ink:1>", "negative_prompt")
    assert caught.value.field == "negative_prompt" and caught.value.position == 5
