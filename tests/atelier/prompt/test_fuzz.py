"""Property tests: the parser never raises anything but PromptError, and its results keep their invariants."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atelier.prompt import PromptError, parse_prompt, parse_prompt_attention, prompt_schedules

PIECES = ["(", ")", "[", "]", ":", "|", "\\", "<", ">", "#", "\n", " ", ",", ".", "-", "=", "0", "1", "1.5", ".5",
          "2", "BREAK", "AND", "lora", "lyco", "te=", "a", "cat", "red", "é", "\x00"]  # fmt: skip
SOUP = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=40).map("".join)
WORDS = st.lists(st.sampled_from(["a", "cat", "red", " ", ",", "dog", "é", "1"]), max_size=20).map("".join)
PLAIN_BRACKETS = st.lists(st.sampled_from(["(", ")", "[", "]", "a", "cat", " ", ","]), max_size=30).map("".join)
FUZZ = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(SOUP, st.sampled_from(["prompt", "negative_prompt"]), st.integers(1, 40))
def test_parse_prompt_raises_only_prompt_errors(text: str, field: str, steps: int) -> None:
    """Any soup of special characters parses or raises PromptError with a position inside the text."""
    try:
        parsed = parse_prompt(text, field, steps=steps)
    except PromptError as error:
        assert 0 <= error.position <= len(text) and error.field == field
        return
    assert parsed.schedule[-1].end_step == steps
    assert [e.end_step for e in parsed.schedule] == sorted({e.end_step for e in parsed.schedule})


@FUZZ
@given(SOUP)
def test_attention_raises_only_prompt_errors(text: str) -> None:
    """parse_prompt_attention returns runs or raises PromptError, nothing else."""
    try:
        runs = parse_prompt_attention(text)
    except PromptError:
        return
    assert runs and all(isinstance(t, str) and isinstance(w, float) for t, w in runs)


@FUZZ
@given(SOUP, st.integers(1, 40))
def test_schedules_raise_only_prompt_errors(text: str, steps: int) -> None:
    """prompt_schedules returns a schedule ending at `steps`, or raises PromptError."""
    try:
        schedule = prompt_schedules(text, steps)
    except PromptError:
        return
    assert schedule[-1][0] == steps and all(1 <= step <= steps for step, _ in schedule)


@FUZZ
@given(PLAIN_BRACKETS)
def test_weights_are_positive_without_explicit_weights(text: str) -> None:
    """Brackets alone only multiply by 1.1 or 1/1.1, so every weight is positive."""
    assert all(weight > 0 for _, weight in parse_prompt_attention(text))


@FUZZ
@given(PLAIN_BRACKETS)
def test_text_is_the_input_minus_applied_brackets(text: str) -> None:
    """Concatenated runs are the input with brackets removed, except closers that closed nothing."""
    joined = "".join(t for t, _ in parse_prompt_attention(text))
    assert joined.replace(")", "").replace("]", "") == text.translate(str.maketrans("", "", "()[]"))
    assert len(joined) <= len(text)


@FUZZ
@given(WORDS)
def test_plain_text_is_one_run_at_weight_one(text: str) -> None:
    """Text without special characters is returned unchanged at weight 1.0."""
    assert parse_prompt_attention(text) == [(text, 1.0)]


@FUZZ
@given(st.lists(st.sampled_from(["a", "cat", " ", "\\(", "\\)", "\\[", "\\]", "\\\\"]), max_size=30))
def test_escapes_unescape(pieces: list[str]) -> None:
    """Text made of words and escapes comes back unescaped, in order, at weight 1.0."""
    text = "".join(pieces)
    expected = "".join(p[1] if p.startswith("\\") else p for p in pieces)
    assert parse_prompt_attention(text) == [(expected, 1.0)]
