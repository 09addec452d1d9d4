"""Extra-network tags: `<lora:name:te:unet:dyn>` and its alias `<lyco:…>`.

A1111 cuts every `<kind:args>` out of the prompt before anything else reads it, so a tag never reaches the
text encoder and its position in the prompt does not matter; the arguments are split on `:`, and those with
`=` are named (`te=`, `unet=`, `dyn=`). We do the same, but a tag we cannot honour (an unsupported kind such
as `hypernet`, a malformed weight) is refused instead of being logged and skipped, so nobody gets an image
that silently ignores part of what they asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from atelier.prompt.errors import MAX_WEIGHT, PromptError
from atelier.prompt.source import Located

_TAG = re.compile(r"<(\w+):([^>]+)>")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_KINDS = {"lora": "lora", "lyco": "lora"}
_NAMED = ("te", "unet", "dyn")


@dataclass(frozen=True)
class NetworkRef:
    """One extra network a prompt asks for, with A1111's multipliers (unet defaults to te)."""

    kind: str
    name: str
    te_weight: float
    unet_weight: float
    dyn: int | None
    position: int
    tag: str


def extract_networks(source: Located, field: str, original: str) -> tuple[Located, list[NetworkRef]]:
    """The text with every tag removed, and the tags as structured items in prompt order."""
    refs: list[NetworkRef] = []
    spans: list[tuple[int, int]] = []
    for match in _TAG.finditer(source.text):
        position = source.origin(match.start())
        refs.append(_parse_tag(match, position, field, original))
        spans.append(match.span())
    return source.without(spans), refs


def _parse_tag(match: re.Match[str], position: int, field: str, original: str) -> NetworkRef:
    kind, args = match.group(1), match.group(2)

    def fail(detail: str) -> PromptError:
        return PromptError(field, detail, position, original)

    if kind.lower() not in _KINDS:
        raise fail(f"<{kind}:…> is not an extra network Atelier supports; only <lora:name:weight> (or <lyco:…>) is")
    positional: list[str] = []
    named: dict[str, str] = {}
    for item in args.split(":"):
        key, sep, value = item.partition("=")
        if not sep:
            positional.append(item.strip())
        elif key.strip() in _NAMED:
            named[key.strip()] = value.strip()
        else:
            raise fail(f"unknown option {key.strip()!r} in {match.group(0)}; use te=, unet= or dyn=")
    if len(positional) > 4:
        raise fail(f"{match.group(0)} has too many parts; the form is <lora:name:te:unet:dyn>")
    name = positional[0] if positional else ""
    if not name:
        raise fail(f"{match.group(0)} names no LoRA; the form is <lora:name:weight>")
    te_text = named.get("te", positional[1] if len(positional) > 1 else "1.0")
    te = _weight(te_text, "weight", fail)
    unet_text = named.get("unet", positional[2] if len(positional) > 2 else "")
    unet = _weight(unet_text, "unet weight", fail) if unet_text else te
    dyn_text = named.get("dyn", positional[3] if len(positional) > 3 else "")
    dyn: int | None = None
    if dyn_text:
        if not dyn_text.isdigit() or int(dyn_text) < 1:
            raise fail(f"dyn must be a whole number of at least 1, not {dyn_text!r}")
        dyn = int(dyn_text)
    return NetworkRef(_KINDS[kind.lower()], name, te, unet, dyn, position, match.group(0))


def _weight(text: str, what: str, fail: Callable[[str], PromptError]) -> float:
    if not _NUMBER.fullmatch(text):
        raise fail(f"the {what} {text!r} is not a number")
    value = float(text)
    if not math.isfinite(value) or abs(value) > MAX_WEIGHT:
        raise fail(f"the {what} {text} is out of range; use a number between -{MAX_WEIGHT:g} and {MAX_WEIGHT:g}")
    return value
