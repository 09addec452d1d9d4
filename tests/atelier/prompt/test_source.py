"""Rewritten texts keep the submitted position of every character."""

from __future__ import annotations

from atelier.prompt.source import Located, strip_comments


def test_without_maps_positions_past_removed_spans() -> None:
    """After cutting a span, later characters still report where they were typed."""
    cut = Located.whole("ab<x>cd").without([(2, 5)])
    assert cut.text == "abcd" and [cut.origin(i) for i in range(4)] == [0, 1, 5, 6]


def test_origin_past_the_end_is_the_end() -> None:
    """An index past the last character maps to the end of the submitted text."""
    assert Located.whole("abc").slice(0, 2).origin(2) == 2 and Located.whole("abc").origin(9) == 3


def test_comments_run_to_the_end_of_the_line() -> None:
    """'#' to the newline is removed; the newline and the next line stay."""
    stripped = strip_comments(Located.whole("a # note\nb #x"))
    assert stripped.text == "a \nb " and stripped.origin(2) == 8
