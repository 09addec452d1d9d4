"""The whole prompt language in A1111's order, pure Python: what `submit` checks and what workers encode.

Order (tech notes §1.1): `#` comments, extra-network tags, `AND`, prompt editing and alternation, then
emphasis and `BREAK` for every distinct scheduled text. Composable diffusion (`AND`, and the trailing
`:weight` A1111 reads as a sub-prompt weight) needs a denoising loop diffusers does not have, so it is
refused with its position rather than flattened into one prompt that would render something else.
Textual-inversion names are recognised as whole words, case-insensitively, as CLIP lower-cases them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from atelier.prompt.emphasis import Fragment, weighted_fragments
from atelier.prompt.errors import MAX_DISTINCT_TEXTS, MAX_PROMPT_CHARS, PromptError
from atelier.prompt.networks import NetworkRef, extract_networks
from atelier.prompt.schedule import check_nesting, located_schedules
from atelier.prompt.source import Located, strip_comments

FIELDS = ("prompt", "negative_prompt")
_AND = re.compile(r"\bAND\b")
_TRAILING_WEIGHT = re.compile(r"\s*:\s*([-+]?(?:\d+\.?|\d*\.\d+))\s*$")


@dataclass(frozen=True)
class ScheduledText:
    """The text used up to and including sampler step `end_step` (A1111 counts steps from 0 here)."""

    end_step: int
    text: str
    fragments: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class ParsedPrompt:
    """Everything the render needs from one prompt field, already checked."""

    field: str
    text: str
    schedule: tuple[ScheduledText, ...]
    networks: tuple[NetworkRef, ...]
    embeddings: tuple[str, ...]
    literal: bool
    warnings: tuple[str, ...]

    def fragments_at(self, step: int) -> tuple[tuple[str, float], ...]:
        """The weighted text for 0-based sampler step `step`: the first entry with step <= end_step."""
        for entry in self.schedule:
            if step <= entry.end_step:
                return entry.fragments
        return self.schedule[-1].fragments


def parse_prompt(
    text: str,
    field: str = "prompt",
    *,
    steps: int = 20,
    hires_steps: int | None = None,
    embedding_names: Iterable[str] = (),
) -> ParsedPrompt:
    """Parse one prompt field; raises `PromptError` (with the character position) and nothing else."""
    if field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}, not {field!r}")
    if len(text) > MAX_PROMPT_CHARS:
        detail = f"is {len(text)} characters long; the limit is {MAX_PROMPT_CHARS}"
        raise PromptError(field, detail, MAX_PROMPT_CHARS, text)
    source = strip_comments(Located.whole(text))
    source, networks = extract_networks(source, field, text)
    _check_networks(networks, field, text)
    if field == "prompt":
        _refuse_composable(source, text)
    check_nesting(source, field, text)
    schedule, literal = located_schedules(source, steps, hires_steps)
    parsed: dict[str, list[Fragment]] = {}
    entries: list[ScheduledText] = []
    for end_step, located in schedule:
        if located.text not in parsed:
            if len(parsed) == MAX_DISTINCT_TEXTS:
                detail = f"prompt editing here makes more than {MAX_DISTINCT_TEXTS} different prompts over the steps"
                raise PromptError(field, detail, located.origin(0), text)
            parsed[located.text] = weighted_fragments(located, field, text, strict=True)
        fragments = tuple((f.text, f.weight) for f in parsed[located.text])
        entries.append(ScheduledText(end_step, located.text, fragments))
    return ParsedPrompt(
        field=field,
        text=source.text,
        schedule=tuple(entries),
        networks=tuple(networks),
        embeddings=find_embeddings(parsed.values(), embedding_names),
        literal=literal,
        warnings=tuple(_warnings(literal, parsed.values())),
    )


def _check_networks(networks: list[NetworkRef], field: str, text: str) -> None:
    if networks and field == "negative_prompt":
        detail = f"{networks[0].tag} is in the negative prompt; LoRAs apply to the whole image, so put it in the prompt"
        raise PromptError(field, detail, networks[0].position, text)
    seen: dict[str, NetworkRef] = {}
    for ref in networks:
        if ref.name in seen:
            detail = f"LoRA {ref.name!r} is named twice (first at character {seen[ref.name].position + 1})"
            raise PromptError(field, detail, ref.position, text)
        seen[ref.name] = ref


def _refuse_composable(source: Located, text: str) -> None:
    found = _AND.search(source.text)
    if found:
        detail = (
            "AND (composable diffusion) is not supported; write the sub-prompts as one prompt, "
            "or 'and' in lower case if you mean the word"
        )
        raise PromptError("prompt", detail, source.origin(found.start()), text)
    weight = _TRAILING_WEIGHT.search(source.text)
    if weight:
        detail = (
            f"a prompt ending in ':{weight.group(1)}' is read by A1111 as a composable-diffusion weight, "
            "which is not supported; end the prompt with something else"
        )
        raise PromptError("prompt", detail, source.origin(weight.start() + weight.group(0).index(":")), text)


def find_embeddings(texts: Iterable[list[Fragment]], names: Iterable[str]) -> tuple[str, ...]:
    """Registered embedding names used as whole words (any case), in order of first use."""
    by_lower = {name.lower(): name for name in names if name}
    if not by_lower:
        return ()
    alternatives = "|".join(re.escape(n) for n in sorted(by_lower, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    found: dict[str, None] = {}
    for fragments in texts:
        for fragment in fragments:
            if not fragment.is_break:
                for match in pattern.finditer(fragment.text):
                    found.setdefault(by_lower[match.group(0).lower()], None)
    return tuple(found)


def _warnings(literal: bool, texts: Iterable[list[Fragment]]) -> list[str]:
    notes = []
    if literal:
        notes.append(
            "the prompt-editing syntax could not be parsed (a '|' outside [...] or a lone trailing '\\'), "
            "so the text is used as written, as A1111 does"
        )
    if any(f.text == "BREAK" and not f.is_break for fragments in texts for f in fragments):
        notes.append("BREAK inside brackets is not a break in A1111; it is read as the word 'BREAK'")
    return notes
