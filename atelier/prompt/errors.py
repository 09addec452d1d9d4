"""The one error the prompt language raises, and the limits it enforces.

Every problem with a prompt, whatever stage finds it, surfaces as `PromptError`: an `InvalidInput` for the
`prompt` or `negative_prompt` field that also carries the 0-based character position in the text the user
typed, so the bot can quote the spot and the gallery can put the cursor on it. Stages that work on a
rewritten text (comments cut, networks removed, a schedule resolved) map positions back before raising.
"""

from __future__ import annotations

from atelier.errors import InvalidInput

MAX_PROMPT_CHARS = 4000
"""Same bound as the Recipe: long enough for any real prompt, short enough to parse in milliseconds."""

MAX_NESTING = 32
"""Brackets nested deeper than this are refused; it also bounds the schedule parser's recursion."""

MAX_WEIGHT = 100.0
"""Largest emphasis or network weight magnitude; beyond it fp16 hidden states overflow to inf."""

MAX_DISTINCT_TEXTS = 100
"""Most different texts one schedule may need encoded (each costs a text-encoder pass per chunk)."""

_EXCERPT = 12


class PromptError(InvalidInput):
    """A prompt that cannot be rendered as written; `position` is 0-based in the submitted text."""

    def __init__(self, field: str, detail: str, position: int, text: str = "") -> None:
        self.position = position
        self.detail = detail
        super().__init__(field, f"{detail} (at character {position + 1}{_excerpt(text, position)})")


def _excerpt(text: str, position: int) -> str:
    if not text:
        return ""
    start = max(0, position - _EXCERPT)
    snippet = text[start : position + _EXCERPT].replace("\n", " ")
    before = "…" if start > 0 else ""
    after = "…" if position + _EXCERPT < len(text) else ""
    return f': "{before}{snippet}{after}"'
