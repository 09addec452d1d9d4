"""Emphasis: `(x)` multiplies by 1.1, `[x]` divides by 1.1, `(x:1.3)`, escapes, `BREAK`; A1111's arithmetic.

Weights are applied when a bracket closes, by multiplying everything emitted since it opened; brackets
still open at the end are applied then (round ones first, as A1111 does), and a closer with no opener is
plain text. That order of multiplications is kept so the floats match A1111's bit for bit. A `BREAK` in
plain text becomes the marker `("BREAK", -1.0)`; like A1111 we multiply it too when it sits inside brackets
(there it stops being a marker and becomes the word). Equal-weight neighbours are merged.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from atelier.prompt.errors import MAX_WEIGHT, PromptError
from atelier.prompt.source import Located

ROUND = 1.1
SQUARE = 1 / 1.1
BREAK = ("BREAK", -1.0)

_TOKEN = re.compile(
    r"""
    \\[()\[\]\\]              # escaped bracket or backslash
    | \\                      # a lone backslash
    | [(\[]                   # openers
    | :\s*([+-]?[.\d]+)\s*\)  # explicit weight closing a round bracket
    | [)\]]                   # closers
    | [^\\()\[\]:]+           # text
    | :                       # a colon that closes nothing
    """,
    re.VERBOSE,
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*")


@dataclass
class Fragment:
    """A run of text with its weight and where it starts in the submitted text."""

    text: str
    weight: float
    position: int

    @property
    def is_break(self) -> bool:
        return self.text == BREAK[0] and self.weight == BREAK[1]


def weighted_fragments(source: Located, field: str, original: str, *, strict: bool) -> list[Fragment]:
    """The emphasis parse of `source`; `strict` also refuses weights beyond ±MAX_WEIGHT."""
    out: list[Fragment] = []
    rounds: list[int] = []
    squares: list[int] = []

    def multiply(start: int, factor: float) -> None:
        for fragment in out[start:]:
            fragment.weight *= factor

    for match in _TOKEN.finditer(source.text):
        token, weight = match.group(0), match.group(1)
        position = source.origin(match.start())
        if token.startswith("\\"):
            out.append(Fragment(token[1:], 1.0, position))
        elif token == "(":
            rounds.append(len(out))
        elif token == "[":
            squares.append(len(out))
        elif weight is not None and rounds:
            multiply(rounds.pop(), _explicit(weight, field, position, original, strict))
        elif token == ")" and rounds:
            multiply(rounds.pop(), ROUND)
        elif token == "]" and squares:
            multiply(squares.pop(), SQUARE)
        else:
            _plain(source, match.start(), token, out)
    for start in rounds:
        multiply(start, ROUND)
    for start in squares:
        multiply(start, SQUARE)
    if strict:
        for fragment in out:
            if not fragment.is_break and not abs(fragment.weight) <= MAX_WEIGHT:
                detail = f"emphasis multiplies to {fragment.weight:g} here; the limit is {MAX_WEIGHT:g}"
                raise PromptError(field, detail, fragment.position, original)
    return _merged(out) or [Fragment("", 1.0, source.end)]


def _explicit(text: str, field: str, position: int, original: str, strict: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PromptError(field, f"the emphasis weight {text!r} is not a number", position, original) from None
    if strict and not (math.isfinite(value) and abs(value) <= MAX_WEIGHT):
        detail = f"the emphasis weight {text} is out of range; use a number between -{MAX_WEIGHT:g} and {MAX_WEIGHT:g}"
        raise PromptError(field, detail, position, original)
    return value


def _plain(source: Located, offset: int, token: str, out: list[Fragment]) -> None:
    cursor = 0
    for match in _BREAK.finditer(token):
        out.append(Fragment(token[cursor : match.start()], 1.0, source.origin(offset + cursor)))
        out.append(Fragment(*BREAK, source.origin(offset + match.start())))
        cursor = match.end()
    out.append(Fragment(token[cursor:], 1.0, source.origin(offset + cursor)))


def _merged(fragments: list[Fragment]) -> list[Fragment]:
    merged: list[Fragment] = []
    for fragment in fragments:
        if merged and merged[-1].weight == fragment.weight:
            merged[-1].text += fragment.text
        else:
            merged.append(fragment)
    return merged


def parse_prompt_attention(text: str) -> list[tuple[str, float]]:
    """A1111's `parse_prompt_attention`: (text, weight) runs, `("BREAK", -1.0)` for BREAK.

    Raises `PromptError` only where A1111 itself fails: an explicit weight that is not a number.
    """
    fragments = weighted_fragments(Located.whole(text), "prompt", text, strict=False)
    return [(fragment.text, fragment.weight) for fragment in fragments]
