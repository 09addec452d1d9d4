"""Prompt checks against the model registry: the one call `submit` makes before it writes a job.

Parsing (`parse.py`) needs no database; this module adds what does: every `<lora:name>` must name an
enabled LoRA in the registry, textual-inversion words are looked up among registered embeddings, and
the moderators' banned terms are refused with their rule.
Unknown names fail at submit time with the closest registered names, not on a worker minutes later.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.prompt.errors import PromptError
from atelier.prompt.parse import ParsedPrompt, parse_prompt
from atelier.schema import ModelFile, ModelKind
from atelier.services.moderation import find_banned


def check_prompt(session: Session, text: str, field: str, *, steps: int = 20) -> ParsedPrompt:
    """Parse `text` for `field` ("prompt" or "negative_prompt") and resolve its LoRAs and embeddings."""
    rows = session.scalars(select(ModelFile).where(ModelFile.kind.in_([ModelKind.LORA, ModelKind.EMBEDDING])))
    models = list(rows)
    embeddings = [m.name for m in models if m.kind == ModelKind.EMBEDDING]
    parsed = parse_prompt(text, field, steps=steps, embedding_names=embeddings)
    loras = {m.name: m for m in models if m.kind == ModelKind.LORA}
    for ref in parsed.networks:
        model = loras.get(ref.name)
        if model is None:
            raise PromptError(field, _unknown_lora(ref.name, sorted(n for n, m in loras.items() if m.enabled)),
                              ref.position, text)  # fmt: skip
        if not model.enabled:
            raise PromptError(field, f"LoRA {ref.name!r} is disabled by the moderators", ref.position, text)
    banned = find_banned(session, text) if field == "prompt" else None  # negatives keep things out
    if banned is not None:
        raise PromptError(field, f"{banned.term!r} is not allowed here: {banned.reason}", banned.position, text)
    disabled = {m.name for m in models if m.kind == ModelKind.EMBEDDING and not m.enabled}
    for name in parsed.embeddings:
        if name in disabled:
            position = text.lower().find(name.lower())
            raise PromptError(field, f"embedding {name!r} is disabled by the moderators", max(position, 0), text)
    return parsed


def _unknown_lora(name: str, names: list[str]) -> str:
    if not names:
        return f"unknown LoRA {name!r}: no LoRAs are installed"
    lowered = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
    if close:
        return f"unknown LoRA {name!r}; did you mean {', '.join(lowered[c] for c in close)}?"
    return f"unknown LoRA {name!r}; installed LoRAs include {', '.join(names[:5])}"


@dataclass
class PromptReview:
    """Everything `atelier prompt check` reports, collected instead of stopping at the first problem."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    loras: list[str] = field(default_factory=list)
    embeddings: list[str] = field(default_factory=list)


def review_prompt(session: Session, prompt: str, negative: str, *, steps: int = 20) -> PromptReview:
    """Check both fields against the registry and list LoRAs whose trigger words the prompt lacks."""
    review = PromptReview()
    for text, name in ((prompt, "prompt"), (negative, "negative_prompt")):
        try:
            parsed = check_prompt(session, text, name, steps=steps)
        except PromptError as error:
            review.errors.append(str(error))
            continue
        review.warnings += [f"{name}: {warning}" for warning in parsed.warnings]
        review.embeddings += parsed.embeddings
        for ref in parsed.networks:
            review.loras.append(ref.name)
            model = session.scalar(
                select(ModelFile).where(ModelFile.kind == ModelKind.LORA, ModelFile.name == ref.name)
            )
            words = list(model.trigger_words or []) if model is not None else []
            lowered = parsed.text.lower()
            missing = [word for word in words if word.lower() not in lowered]
            if words and len(missing) == len(words):
                review.warnings.append(
                    f"LoRA {ref.name!r} is usually triggered by {', '.join(words)}; none is in the prompt"
                )
    return review
