"""Emphasis parsing reproduces A1111's `parse_prompt_attention` results (tech notes §1.4)."""

from __future__ import annotations

import pytest

from atelier.prompt import PromptError, parse_prompt_attention


def test_documented_example() -> None:
    """The reference's worked example gives A1111's exact weights, float for float."""
    assert parse_prompt_attention("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).") == [
        ("a ", 1.0),
        ("house", 1.3 * 1.1 * 1.1),
        (" ", 1.1),
        ("on", 1.0),
        (" a ", 1.1),
        ("hill", 0.55),
        (", sun, ", 1.1),
        ("sky", 1.1 * 1.1 * 1.1 * 1.1),
        (".", 1.1),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("normal text", [("normal text", 1.0)]),
        ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
        ("a (more important) word", [("a ", 1.0), ("more important", 1.1), (" word", 1.0)]),
        ("(unbalanced", [("unbalanced", 1.1)]),
        ("\\(literal\\]", [("(literal]", 1.0)]),
        ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
        ("a (b:1.3) c", [("a ", 1.0), ("b", 1.3), (" c", 1.0)]),
    ],
)
def test_a1111_documented_cases(text: str, expected: list[tuple[str, float]]) -> None:
    """Each example from A1111's documentation parses to its documented result."""
    assert parse_prompt_attention(text) == expected


def test_round_brackets_multiply_by_1_1() -> None:
    """One pair of round brackets is 1.1."""
    assert parse_prompt_attention("(x)") == [("x", 1.1)]


def test_square_brackets_divide_by_1_1() -> None:
    """One pair of square brackets is 1/1.1."""
    assert parse_prompt_attention("[x]") == [("x", 1 / 1.1)]


def test_nesting_multiplies() -> None:
    """((x)) is 1.1 squared, (((x))) 1.1 cubed, [[x]] 1/1.1 squared."""
    assert parse_prompt_attention("((x))") == [("x", 1.1 * 1.1)]
    assert parse_prompt_attention("(((x)))") == [("x", 1.1 * 1.1 * 1.1)]
    assert parse_prompt_attention("[[x]]") == [("x", (1 / 1.1) * (1 / 1.1))]


def test_explicit_weight_replaces_the_1_1() -> None:
    """(x:1.3) is 1.3, not 1.43."""
    assert parse_prompt_attention("(x:1.3)") == [("x", 1.3)]


def test_explicit_weight_allows_spaces() -> None:
    """(x : 0.5 ) is the newer grammar's spaced weight; the space before ':' stays in the text."""
    assert parse_prompt_attention("(x : 0.5 )") == [("x ", 0.5)]


def test_unclosed_brackets_apply_at_the_end() -> None:
    """An unclosed [ applies 1/1.1 to everything after it."""
    assert parse_prompt_attention("a [b c") == [("a ", 1.0), ("b c", 1 / 1.1)]


def test_stray_closers_are_text() -> None:
    """A ) or ] with no opener is kept as a character at weight 1."""
    assert parse_prompt_attention("a) b]") == [("a) b]", 1.0)]


def test_stray_weight_closer_is_text() -> None:
    """':1.2)' with no open round bracket is plain text."""
    assert parse_prompt_attention("a:1.2)") == [("a:1.2)", 1.0)]


def test_escaped_backslash() -> None:
    """'\\\\' is one literal backslash."""
    assert parse_prompt_attention("a\\\\b") == [("a\\b", 1.0)]


def test_escape_inside_brackets_takes_the_bracket_weight() -> None:
    """An escaped bracket inside (…) is emphasised with its neighbours."""
    assert parse_prompt_attention("(\\(x\\))") == [("(x)", 1.1)]


def test_colon_without_weight_is_text() -> None:
    """[a:b] has no number: the colon is text and the square brackets still apply."""
    assert parse_prompt_attention("[a:b]") == [("a:b", 1 / 1.1)]


def test_break_is_a_marker() -> None:
    """BREAK between words becomes ("BREAK", -1) and eats surrounding spaces."""
    assert parse_prompt_attention("a BREAK b") == [("a", 1.0), ("BREAK", -1.0), ("b", 1.0)]


def test_break_needs_word_boundaries() -> None:
    """BREAKFAST is a word, not a break."""
    assert parse_prompt_attention("BREAKFAST") == [("BREAKFAST", 1.0)]


def test_break_inside_brackets_is_multiplied_like_a1111() -> None:
    """Inside (…) the marker is multiplied too, so it stops being -1 (A1111's quirk)."""
    assert parse_prompt_attention("(a BREAK b)") == [("a", 1.1), ("BREAK", -1.1), ("b", 1.1)]


def test_empty_prompt() -> None:
    """An empty prompt is one empty run at weight 1."""
    assert parse_prompt_attention("") == [("", 1.0)]


def test_empty_brackets() -> None:
    """() emits nothing, so the result is the empty run."""
    assert parse_prompt_attention("()") == [("", 1.0)]


def test_equal_weights_merge() -> None:
    """Neighbouring runs with the same weight become one."""
    assert parse_prompt_attention("(a)(b) c") == [("ab", 1.1), (" c", 1.0)]


def test_unparseable_weight_is_a_prompt_error() -> None:
    """(x:1.2.3) is refused with the position of the weight (A1111 would crash)."""
    with pytest.raises(PromptError) as caught:
        parse_prompt_attention("ab (x:1.2.3)")
    assert caught.value.position == 5 and "1.2.3" in caught.value.reason
