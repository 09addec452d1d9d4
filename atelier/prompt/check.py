"""Prompt checks against the model registry: what `submit` refuses, and what the live check reports.

Parsing (`parse.py`) needs no database; this module adds what does: every `<lora:name>` must name an
enabled LoRA in the registry made for the checkpoint's architecture, textual-inversion words are
looked up among registered embeddings, and the moderators' banned terms are refused with their rule.
`check_prompt` (used by `submit`) stops at the first problem; `review_prompt` (the bot's and the
gallery's live check, and `atelier prompt check`) collects every problem of both fields at once,
with A1111's token counts per 75-token chunk.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.clip_tokenizer import has_tokenizer, tokenizer_for
from atelier.prompt.chunks import chunk_tokens
from atelier.prompt.errors import PromptError
from atelier.prompt.parse import ParsedPrompt, parse_prompt
from atelier.schema import ModelFile, ModelKind
from atelier.services.moderation import find_banned

FIELDS = ("prompt", "negative_prompt")


def _networks(session: Session) -> list[ModelFile]:
    return list(session.scalars(select(ModelFile).where(ModelFile.kind.in_([ModelKind.LORA, ModelKind.EMBEDDING]))))


def problems(
    session: Session, text: str, field: str, parsed: ParsedPrompt, checkpoint: ModelFile | None = None
) -> list[PromptError]:
    """Everything wrong with an already parsed prompt field, in the order it appears in the text."""
    models = _networks(session)
    loras = {m.name: m for m in models if m.kind == ModelKind.LORA}
    found: list[PromptError] = []
    for ref in parsed.networks:
        model = loras.get(ref.name)
        if model is None:
            enabled = sorted(n for n, m in loras.items() if m.enabled)
            found.append(PromptError(field, _unknown_lora(ref.name, enabled), ref.position, text))
        elif not model.enabled:
            found.append(PromptError(field, f"LoRA {ref.name!r} is disabled by the moderators", ref.position, text))
        elif checkpoint is not None and model.base_arch != checkpoint.base_arch:
            detail = (
                f"LoRA {ref.name!r} is for {model.base_arch} models but {checkpoint.name!r} is {checkpoint.base_arch}"
            )
            found.append(PromptError(field, detail, ref.position, text))
    banned = find_banned(session, text) if field == "prompt" else None  # negatives keep things out
    if banned is not None:
        found.append(PromptError(field, f"{banned.term!r} is not allowed here: {banned.reason}", banned.position, text))
    disabled = {m.name for m in models if m.kind == ModelKind.EMBEDDING and not m.enabled}
    for name in parsed.embeddings:
        if name in disabled:
            position = max(text.lower().find(name.lower()), 0)
            found.append(PromptError(field, f"embedding {name!r} is disabled by the moderators", position, text))
    return sorted(found, key=lambda problem: problem.position)


def _parse(session: Session, text: str, field: str, steps: int) -> ParsedPrompt:
    embeddings = session.scalars(select(ModelFile.name).where(ModelFile.kind == ModelKind.EMBEDDING))
    return parse_prompt(text, field, steps=steps, embedding_names=list(embeddings))


def check_prompt(session: Session, text: str, field: str, *, steps: int = 20) -> ParsedPrompt:
    """Parse `text` for `field` ("prompt" or "negative_prompt"); raise the first problem, if any."""
    parsed = _parse(session, text, field, steps)
    found = problems(session, text, field, parsed)
    if found:
        raise found[0]
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
    """Everything a live prompt check reports, collected instead of stopping at the first problem."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    loras: list[str] = field(default_factory=list)
    embeddings: list[str] = field(default_factory=list)
    tokens: dict[str, list[int]] = field(default_factory=dict)
    """Real tokens in each 75-token chunk, per field, as A1111 shows them ("26/75"); empty if no tokenizer."""

    def to_json(self) -> dict[str, object]:
        return {
            "ok": not self.errors,
            "errors": self.errors,
            "warnings": self.warnings,
            "loras": self.loras,
            "embeddings": self.embeddings,
            "tokens": self.tokens,
        }


def tokenizer_folder(models_dir: Path, checkpoint: ModelFile | None) -> Path | None:
    """The checkpoint's tokenizer: its diffusers folder's, its own config folder's, or its base's."""
    if checkpoint is None:
        return None
    path = models_dir / checkpoint.file_path
    configs = models_dir / "configs"
    folders = [path] if path.is_dir() else [configs / path.stem, configs / checkpoint.base_arch]
    return next((f / "tokenizer" for f in folders if has_tokenizer(f / "tokenizer")), None)


def review_prompt(
    session: Session,
    prompt: str,
    negative: str,
    *,
    steps: int = 20,
    checkpoint: ModelFile | None = None,
    models_dir: Path | None = None,
) -> PromptReview:
    """Check both fields against the registry (and the checkpoint's architecture when given), count their
    tokens with the checkpoint's tokenizer, and list LoRAs whose trigger words the prompt lacks."""
    review = PromptReview()
    folder = tokenizer_folder(models_dir, checkpoint) if models_dir is not None else None
    tokenizer = tokenizer_for(folder) if folder is not None else None
    for text, name in ((prompt, "prompt"), (negative, "negative_prompt")):
        try:
            parsed = _parse(session, text, name, steps)
        except PromptError as error:
            review.errors.append(str(error))
            continue
        review.errors += [str(problem) for problem in problems(session, text, name, parsed, checkpoint)]
        review.warnings += [f"{name}: {warning}" for warning in parsed.warnings]
        review.embeddings += parsed.embeddings
        if tokenizer is not None:
            chunks = chunk_tokens(tokenizer, parsed.schedule[0].fragments) if text.strip() else []
            review.tokens[name] = [chunk.used for chunk in chunks]
        for ref in parsed.networks:
            review.loras.append(ref.name)
            review.warnings += _trigger_warnings(session, ref.name, parsed.text)
    return review


def _trigger_warnings(session: Session, lora: str, text: str) -> list[str]:
    model = session.scalar(select(ModelFile).where(ModelFile.kind == ModelKind.LORA, ModelFile.name == lora))
    words = list(model.trigger_words or []) if model is not None else []
    if words and not any(word.lower() in text.lower() for word in words):
        return [f"LoRA {lora!r} is usually triggered by {', '.join(words)}; none is in the prompt"]
    return []
