"""Text that remembers where each character came from.

The prompt goes through several rewrites before its weights are known (comments cut, extra-network tags
removed, one text per schedule step). Errors must still point at the character the user typed, so every
rewrite carries, for each character, its index in the original submission.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_COMMENT = re.compile(r"#[^\n]*")


@dataclass(frozen=True)
class Located:
    """A text and, per character, its 0-based index in the submitted text; `end` stands for its end."""

    text: str
    positions: tuple[int, ...]
    end: int

    @classmethod
    def whole(cls, text: str) -> Located:
        return cls(text, tuple(range(len(text))), len(text))

    @classmethod
    def join(cls, pieces: Iterable[Located], end: int) -> Located:
        parts = list(pieces)
        return cls("".join(p.text for p in parts), tuple(i for p in parts for i in p.positions), end)

    def origin(self, index: int) -> int:
        """Where character `index` of this text was typed (the end of the text past its last character)."""
        return self.positions[index] if 0 <= index < len(self.positions) else self.end

    def slice(self, start: int, stop: int) -> Located:
        return Located(self.text[start:stop], self.positions[start:stop], self.origin(stop))

    def without(self, spans: Iterable[tuple[int, int]]) -> Located:
        """This text with the given [start, stop) spans removed (spans sorted, not overlapping)."""
        keep: list[Located] = []
        cursor = 0
        for start, stop in spans:
            keep.append(self.slice(cursor, start))
            cursor = stop
        keep.append(self.slice(cursor, len(self.text)))
        return Located.join(keep, self.end)


def strip_comments(source: Located) -> Located:
    """A1111 (option "enable_prompt_comments", on by default) drops `#` to the end of the line, so a
    prompt pasted from A1111 with notes in it renders the same here; the newline itself stays."""
    return source.without(m.span() for m in _COMMENT.finditer(source.text))
