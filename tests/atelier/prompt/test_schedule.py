"""Prompt editing and alternation schedules reproduce A1111's documented results (tech notes §1.2)."""

from __future__ import annotations

import pytest

from atelier.prompt import PromptError, prompt_schedules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("test", [(10, "test")]),
        ("a [b:3]", [(3, "a "), (10, "a b")]),
        ("a [b: 3]", [(3, "a "), (10, "a b")]),
        ("a [[[b]]:2]", [(2, "a "), (10, "a [[b]]")]),
        ("[(a:2):3]", [(3, ""), (10, "(a:2)")]),
        ("a [b : c : 1] d", [(1, "a b  d"), (10, "a  c  d")]),
        ("a[b:[c:d:2]:1]e", [(1, "abe"), (2, "ace"), (10, "ade")]),
        ("a [unbalanced", [(10, "a [unbalanced")]),
        ("a [b:.5] c", [(5, "a  c"), (10, "a b c")]),
        ("a [{b|d{:.5] c", [(10, "a [{b|d{:.5] c")]),
        ("((a][:b:c [d:3]", [(3, "((a][:b:c "), (10, "((a][:b:c d")]),
    ],
)
def test_a1111_documented_schedules(text: str, expected: list[tuple[int, str]]) -> None:
    """Each doc-test of A1111's schedule function gives the same (end_step, text) list."""
    assert prompt_schedules(text, 10) == expected


def test_to_when_adds_after_the_step() -> None:
    """[to:when] adds `to` after step `when`."""
    assert prompt_schedules("a [cat:4]", 8) == [(4, "a "), (8, "a cat")]


def test_from_empty_when_removes_after_the_step() -> None:
    """[from::when] removes `from` after step `when`."""
    assert prompt_schedules("a [cat::4]", 8) == [(4, "a cat"), (8, "a ")]


def test_from_to_when_swaps() -> None:
    """[from:to:when] swaps texts after step `when`."""
    assert prompt_schedules("[red:blue:0.5]", 10) == [(5, "red"), (10, "blue")]


def test_decimal_is_a_fraction_and_integer_a_step() -> None:
    """`2` is step 2; `2.0` is twice the steps, capped at the step count."""
    assert prompt_schedules("[a:b:2]", 10) == [(2, "a"), (10, "b")]
    assert prompt_schedules("[a:b:2.0]", 10) == [(10, "a")]


def test_zero_or_negative_when_switches_at_once() -> None:
    """A when below 1 makes no switch point; the `to` text is used from the start."""
    assert prompt_schedules("[a:b:0]", 5) == [(5, "b")]
    assert prompt_schedules("[a:b:-3]", 5) == [(5, "b")]


def test_alternation_cycles_every_step() -> None:
    """[a|b|c] picks option (step-1) mod 3."""
    assert prompt_schedules("x [a|b|c]", 4) == [(1, "x a"), (2, "x b"), (3, "x c"), (4, "x a")]


def test_alternation_allows_empty_options() -> None:
    """[fe|]male alternates female and male."""
    assert prompt_schedules("[fe|]male", 4) == [(1, "female"), (2, "male"), (3, "female"), (4, "male")]


def test_alternation_keeps_emphasis_inside() -> None:
    """An option may carry emphasis brackets, kept for the emphasis stage."""
    assert prompt_schedules("[a|(b:1.1)]", 2) == [(1, "a"), (2, "(b:1.1)")]


def test_pipe_outside_brackets_keeps_the_text_literal() -> None:
    """A `|` the grammar cannot place makes the whole prompt literal, as in A1111."""
    assert prompt_schedules("a [b:c:2] | d", 4) == [(4, "a [b:c:2] | d")]


def test_trailing_backslash_keeps_the_text_literal() -> None:
    """A lone trailing backslash fails the grammar: the prompt is used as written."""
    assert prompt_schedules("[a:b:1] \\", 4) == [(4, "[a:b:1] \\")]


def test_escaped_brackets_are_not_schedules() -> None:
    """\\[a:b:1\\] is plain text."""
    assert prompt_schedules("\\[a:b:1\\]", 4) == [(4, "\\[a:b:1\\]")]


def test_hires_schedule_uses_numbers_past_the_base_pass() -> None:
    """With hires steps, 1.5 is half-way through the hires pass and 15 its 5th step."""
    assert prompt_schedules("a [b:1.5] c", 10, hires_steps=10) == [(5, "a  c"), (10, "a b c")]
    assert prompt_schedules("a [b:15] c", 10, hires_steps=10) == [(5, "a  c"), (10, "a b c")]
    assert prompt_schedules("a [b:.5] c", 10, hires_steps=10) == [(10, "a b c")]


def test_old_scheduling_reads_values_below_one_as_fractions() -> None:
    """A1111's old timelines: v < 1 is a fraction, anything else a step, with or without a dot."""
    assert prompt_schedules("[a:b:0.5]", 10, use_old_scheduling=True) == [(5, "a"), (10, "b")]
    assert prompt_schedules("[a:b:3.0]", 10, use_old_scheduling=True) == [(3, "a"), (10, "b")]


def test_huge_when_is_capped_at_the_steps() -> None:
    """A number far beyond the steps (even 1e400) is the last step, not an overflow."""
    assert prompt_schedules("[a:b:1e400]", 10) == [(10, "a")]


def test_deep_nesting_is_refused_before_parsing() -> None:
    """More than 32 nested brackets raise PromptError at the 33rd opener."""
    with pytest.raises(PromptError) as caught:
        prompt_schedules("[" * 40 + "a" + "]" * 40, 10)
    assert caught.value.position == 32
