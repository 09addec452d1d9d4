"""The whole pipeline in A1111's order: comments, networks, AND, schedules, emphasis, embeddings, limits."""

from __future__ import annotations

import pytest

from atelier.errors import InvalidInput
from atelier.prompt import MAX_PROMPT_CHARS, PromptError, parse_prompt


def test_prompt_error_is_invalid_input_for_the_field() -> None:
    """Errors are InvalidInput for the field, with position and an excerpt in the message."""
    with pytest.raises(InvalidInput) as caught:
        parse_prompt("a cat (x:1.2.3)", "negative_prompt")
    assert isinstance(caught.value, PromptError) and caught.value.field == "negative_prompt"
    assert "at character 9" in str(caught.value) and "(x:1.2.3)" in str(caught.value)


def test_and_is_refused_with_its_position() -> None:
    """AND (composable diffusion) is refused, never flattened."""
    with pytest.raises(PromptError) as caught:
        parse_prompt("a cat AND a dog")
    assert caught.value.position == 6 and "AND" in caught.value.reason


def test_and_position_counts_removed_text() -> None:
    """The position is in the submitted text even after a tag before it was cut."""
    with pytest.raises(PromptError) as caught:
        parse_prompt("<lora:ink:1> a AND b")
    assert caught.value.position == 15


def test_lower_case_and_is_a_word() -> None:
    """'and' is ordinary text."""
    assert parse_prompt("salt and pepper").schedule[0].text == "salt and pepper"


def test_and_in_the_negative_prompt_is_text() -> None:
    """A1111 does not split the negative prompt on AND, so neither do we."""
    assert parse_prompt("blurry AND dark", "negative_prompt").schedule[0].text == "blurry AND dark"


def test_trailing_subprompt_weight_is_refused() -> None:
    """A prompt ending in ':1.2' is an A1111 composable weight, refused at the colon."""
    with pytest.raises(PromptError) as caught:
        parse_prompt("a cat :1.2")
    assert caught.value.position == 6


def test_comments_are_removed() -> None:
    """'#' to the end of the line is dropped, as A1111 does by default."""
    assert parse_prompt("a cat # AND a note\nred").text == "a cat \nred"


def test_schedule_entries_carry_weighted_fragments() -> None:
    """Every scheduled text comes with its emphasis parse."""
    parsed = parse_prompt("[(red:1.5):blue:0.5] cat", steps=10)
    assert [(e.end_step, e.fragments) for e in parsed.schedule] == [
        (5, (("red", 1.5), (" cat", 1.0))),
        (10, (("blue cat", 1.0),)),
    ]


def test_fragments_at_uses_a1111_step_rule() -> None:
    """Step s (0-based) uses the first entry with s <= end_step."""
    parsed = parse_prompt("[red:blue:5]", steps=10)
    assert parsed.fragments_at(5) == (("red", 1.0),) and parsed.fragments_at(6) == (("blue", 1.0),)


def test_literal_fallback_is_reported() -> None:
    """A prompt the schedule grammar rejects is used literally, with a warning."""
    parsed = parse_prompt("a | b")
    assert parsed.literal and parsed.schedule[0].text == "a | b" and parsed.warnings


def test_break_inside_brackets_warns() -> None:
    """BREAK inside brackets is not a break in A1111; the user is told."""
    assert any("BREAK" in note for note in parse_prompt("(a BREAK b)").warnings)


def test_embeddings_are_recognised_as_words_in_any_case() -> None:
    """Registered embedding names are found as whole words, any case, in order of first use."""
    parsed = parse_prompt("EasyNegative, (bad-hands:1.2), easynegativeish", "negative_prompt",
                          embedding_names=["bad-hands", "easynegative", "unused"])  # fmt: skip
    assert parsed.embeddings == ("easynegative", "bad-hands")


def test_embeddings_in_every_scheduled_text_count() -> None:
    """An embedding used only after a switch is still listed."""
    assert parse_prompt("[a:style1:3]", steps=6, embedding_names=["style1"]).embeddings == ("style1",)


def test_too_long_is_refused_at_the_limit() -> None:
    """A prompt over the character limit is refused with the position of the limit."""
    with pytest.raises(PromptError) as caught:
        parse_prompt("a" * (MAX_PROMPT_CHARS + 1))
    assert caught.value.position == MAX_PROMPT_CHARS


def test_deep_nesting_is_refused() -> None:
    """Brackets nested 33 deep are refused, counted after escapes."""
    with pytest.raises(PromptError) as caught:
        parse_prompt("\\(" + "(" * 33 + "a")
    assert caught.value.position == 2 + 32 and "nested" in caught.value.reason


def test_weight_out_of_range_is_refused() -> None:
    """An explicit weight beyond +-100 is refused (A1111 would render inf)."""
    with pytest.raises(PromptError) as caught:
        parse_prompt("a (b:1000)")
    assert caught.value.position == 4


def test_multiplied_weight_out_of_range_is_refused() -> None:
    """Nested weights whose product passes 100 are refused at the fragment."""
    with pytest.raises(PromptError) as caught:
        parse_prompt("a ((b:20):20)")
    assert caught.value.position == 4 and "400" in caught.value.reason


def test_too_many_distinct_scheduled_texts_is_refused() -> None:
    """Alternations that make over 100 different texts are refused."""
    with pytest.raises(PromptError):
        parse_prompt("[a|b|c|d|e|f|g|h|i|j|k][1|2|3|4|5|6|7|8|9|0|x|y|z]", steps=150)


def test_alternation_texts_are_parsed_once_each() -> None:
    """A 150-step alternation of two options has 150 entries but two distinct texts."""
    parsed = parse_prompt("[cat|dog]", steps=150)
    assert len(parsed.schedule) == 150 and {e.text for e in parsed.schedule} == {"cat", "dog"}


def test_unknown_field_is_a_programming_error() -> None:
    """Only prompt and negative_prompt are prompt fields."""
    with pytest.raises(ValueError):
        parse_prompt("a", "seed")
