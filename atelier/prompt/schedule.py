"""Prompt editing `[from:to:when]` and alternation `[a|b]`: which text is used at which step.

A1111 describes this layer with a small grammar (tech notes §1.2): `(…)`, `(…:…)` and `[…]` are kept with
their brackets for the emphasis stage; `[to:when]`, `[from::when]`, `[from:to:when]` switch text at a step;
`[a|b|c]` cycles every step; at the top level stray `[ ] ( ) :` are plain text. When the grammar cannot
parse a prompt (a `|` outside `[…]`, a lone trailing backslash) A1111 uses the whole prompt literally, and
so do we. This is a hand-written packrat parser for that grammar: it tries a bracket construct first and
falls back to a literal bracket only at the top level, which is how A1111's parser resolves the same texts.
Recursion is bounded because `check_nesting` refuses bracket depths over `MAX_NESTING` beforehand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from atelier.prompt.errors import MAX_NESTING, PromptError
from atelier.prompt.source import Located

_PLAIN = re.compile(r"(?:[^\\\[\]():|]|\\.)+")
_EXP = r"(?:[eE][+-]?\d+)"
_NUMBER = re.compile(rf"\s*([+-]?(?:\d+{_EXP}|\d+\.\d*{_EXP}?|\.\d+{_EXP}?|\d+))\s*\]")


@dataclass(frozen=True)
class _Literal:
    text: Located


@dataclass(frozen=True)
class _Seq:
    parts: tuple[_Node, ...]


@dataclass(frozen=True)
class _Scheduled:
    before: _Seq
    after: _Seq
    number: str


@dataclass(frozen=True)
class _Alternate:
    options: tuple[_Seq, ...]


_Node = _Literal | _Seq | _Scheduled | _Alternate


class _NoParse(Exception):
    """The grammar does not accept the text; A1111 then uses it literally."""


class _Parser:
    def __init__(self, source: Located) -> None:
        self.source = source
        self.text = source.text
        self._seqs: dict[int, tuple[_Seq, int]] = {}
        self._constructs: dict[int, tuple[_Node, int] | None] = {}

    def literal(self, start: int, stop: int) -> _Literal:
        return _Literal(self.source.slice(start, stop))

    def top(self) -> _Seq:
        parts: list[_Node] = []
        i = 0
        while i < len(self.text):
            seq, i = self.seq(i)
            parts.append(seq)
            if i < len(self.text):
                if self.text[i] not in "[]():":
                    raise _NoParse
                parts.append(self.literal(i, i + 1))
                i += 1
        return _Seq(tuple(parts))

    def seq(self, start: int) -> tuple[_Seq, int]:
        """The longest run of plain text and bracket constructs from `start` (memoised: packrat)."""
        if start in self._seqs:
            return self._seqs[start]
        parts: list[_Node] = []
        i = start
        while i < len(self.text):
            char = self.text[i]
            if char in "[(":
                found = self.construct(i)
                if found is None:
                    break
                node, i = found
                parts.append(node)
                continue
            match = _PLAIN.match(self.text, i)
            if match is None:
                break
            parts.append(self.literal(i, match.end()))
            i = match.end()
        self._seqs[start] = (_Seq(tuple(parts)), i)
        return self._seqs[start]

    def construct(self, start: int) -> tuple[_Node, int] | None:
        if start not in self._constructs:
            parse = self.square if self.text[start] == "[" else self.round
            self._constructs[start] = parse(start)
        return self._constructs[start]

    def at(self, i: int) -> str:
        return self.text[i] if i < len(self.text) else ""

    def round(self, start: int) -> tuple[_Node, int] | None:
        inner, i = self.seq(start + 1)
        if self.at(i) == ")":
            return _Seq((self.literal(start, start + 1), inner, self.literal(i, i + 1))), i + 1
        if self.at(i) == ":":
            weight, j = self.seq(i + 1)
            if self.at(j) == ")":
                parts = (self.literal(start, start + 1), inner, self.literal(i, i + 1), weight, self.literal(j, j + 1))
                return _Seq(parts), j + 1
        return None

    def square(self, start: int) -> tuple[_Node, int] | None:
        first, i = self.seq(start + 1)
        if self.at(i) == "]":
            return _Seq((self.literal(start, start + 1), first, self.literal(i, i + 1))), i + 1
        if self.at(i) == "|":
            options = [first]
            while self.at(i) == "|":
                option, i = self.seq(i + 1)
                options.append(option)
            return (_Alternate(tuple(options)), i + 1) if self.at(i) == "]" else None
        if self.at(i) == ":":
            number = _NUMBER.match(self.text, i + 1)
            if number:
                return _Scheduled(_Seq(()), first, number.group(1)), number.end()
            second, j = self.seq(i + 1)
            if self.at(j) == ":":
                number = _NUMBER.match(self.text, j + 1)
                if number:
                    return _Scheduled(first, second, number.group(1)), number.end()
        return None


def check_nesting(source: Located, field: str, original: str) -> None:
    """Refuse brackets nested deeper than MAX_NESTING (escapes are not brackets; stray closers are ignored)."""
    depth = 0
    escaped = False
    for i, char in enumerate(source.text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "([":
            depth += 1
            if depth > MAX_NESTING:
                detail = f"brackets are nested more than {MAX_NESTING} deep"
                raise PromptError(field, detail, source.origin(i), original)
        elif char in ")]" and depth:
            depth -= 1


@dataclass(frozen=True)
class _Steps:
    steps: int
    int_offset: int
    float_offset: float
    old: bool

    def when(self, number: str) -> int:
        """The step after which a `[from:to:when]` switches (A1111: decimals are fractions of the steps)."""
        value = float(number)
        if self.old:
            value = value * self.steps if value < 1 else value
        elif "." in number:
            value = (value - self.float_offset) * self.steps
        else:
            value -= self.int_offset
        return int(max(-1.0, min(float(self.steps), value)))


def _collect(node: _Node, steps: _Steps, found: set[int]) -> None:
    if isinstance(node, _Seq):
        for part in node.parts:
            _collect(part, steps, found)
    elif isinstance(node, _Scheduled):
        when = steps.when(node.number)
        if when >= 1:
            found.add(when)
        _collect(node.before, steps, found)
        _collect(node.after, steps, found)
    elif isinstance(node, _Alternate):
        found.update(range(1, steps.steps + 1))
        for option in node.options:
            _collect(option, steps, found)


def _resolve(node: _Node, step: int, steps: _Steps, out: list[Located]) -> None:
    if isinstance(node, _Literal):
        out.append(node.text)
    elif isinstance(node, _Seq):
        for part in node.parts:
            _resolve(part, step, steps, out)
    elif isinstance(node, _Scheduled):
        _resolve(node.before if step <= steps.when(node.number) else node.after, step, steps, out)
    else:
        _resolve(node.options[(step - 1) % len(node.options)], step, steps, out)


def located_schedules(
    source: Located, steps: int, hires_steps: int | None = None, use_old_scheduling: bool = False
) -> tuple[list[tuple[int, Located]], bool]:
    """(end_step, text) pairs as A1111 builds them, and whether the text had to be taken literally.

    With `hires_steps` the schedule is the one for the hires pass: integers count on from the base steps
    and decimals above 1.0 are fractions of the hires pass, as in A1111's newer scheduling.
    """
    if steps < 1 or (hires_steps is not None and hires_steps < 1):
        raise ValueError("steps must be at least 1")
    if hires_steps is None or use_old_scheduling:
        plan = _Steps(steps, 0, 0.0, use_old_scheduling)
    else:
        plan = _Steps(hires_steps, steps, 1.0, False)
    try:
        tree = _Parser(source).top()
    except _NoParse:
        return [(plan.steps, source)], True
    points = {plan.steps}
    _collect(tree, plan, points)
    schedule: list[tuple[int, Located]] = []
    for step in sorted(points):
        pieces: list[Located] = []
        _resolve(tree, step, plan, pieces)
        schedule.append((step, Located.join(pieces, source.end)))
    return schedule, False


def prompt_schedules(
    text: str, steps: int, hires_steps: int | None = None, use_old_scheduling: bool = False
) -> list[tuple[int, str]]:
    """A1111's prompt schedule for one prompt: (last step this text is used for, text), in step order."""
    source = Located.whole(text)
    check_nesting(source, "prompt", text)
    schedule, _ = located_schedules(source, steps, hires_steps, use_old_scheduling)
    return [(step, located.text) for step, located in schedule]
