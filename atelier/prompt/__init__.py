"""The A1111 prompt language: parsing and checking, with no torch (workers do the encoding).

`check_prompt` is what `submit` calls; `parse_prompt` is the same parse without the registry, which is what
a worker needs; `parse_prompt_attention` and `prompt_schedules` reproduce A1111's functions of those names.
"""

from atelier.prompt.check import check_prompt
from atelier.prompt.emphasis import parse_prompt_attention
from atelier.prompt.errors import MAX_NESTING, MAX_PROMPT_CHARS, MAX_WEIGHT, PromptError
from atelier.prompt.networks import NetworkRef
from atelier.prompt.parse import ParsedPrompt, ScheduledText, parse_prompt
from atelier.prompt.schedule import prompt_schedules

__all__ = [
    "MAX_NESTING",
    "MAX_PROMPT_CHARS",
    "MAX_WEIGHT",
    "NetworkRef",
    "ParsedPrompt",
    "PromptError",
    "ScheduledText",
    "check_prompt",
    "parse_prompt",
    "parse_prompt_attention",
    "prompt_schedules",
]
