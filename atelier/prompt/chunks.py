"""A1111's token chunks, without torch: what the encoder feeds CLIP and what "26/75" counts.

Every parsed fragment is tokenised on its own, without special tokens. Tokens fill chunks of 75; a
full chunk whose last 20 tokens hold a comma is cut after that comma and the rest moves to the next
chunk; `BREAK` closes the chunk at once. Each chunk is padded with EOS to 75 and framed as
BOS + 75 + EOS = 77. The workers' encoder and the prompt check share this one implementation, so
the counts a member sees are the chunks that are rendered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

CHUNK_LENGTH = 75
COMMA_BACKTRACK = 20


@dataclass
class Chunk:
    """77 token ids (BOS + 75 + EOS) and the emphasis weight of each; `used` real tokens among the 75."""

    tokens: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    used: int = 0


def is_break(text: str, weight: float) -> bool:
    return text == "BREAK" and weight == -1.0


def chunk_tokens(
    tokenizer: Any,
    fragments: Sequence[tuple[str, float]],
    *,
    comma_backtrack: int = COMMA_BACKTRACK,
    convert: Callable[[str], str] | None = None,
) -> list[Chunk]:
    """A1111's chunking of weighted fragments with `tokenizer` (transformers' CLIPTokenizer or
    `atelier.clip_tokenizer.ClipTokenizer`)."""
    bos, eos = int(tokenizer.bos_token_id), int(tokenizer.eos_token_id)
    comma = tokenizer.get_vocab().get(",</w>")
    chunks: list[Chunk] = []
    current = Chunk()
    last_comma = -1

    def close() -> None:
        nonlocal current, last_comma
        missing = CHUNK_LENGTH - len(current.tokens)
        chunks.append(
            Chunk(
                [bos, *current.tokens, *[eos] * missing, eos],
                [1.0, *current.weights, *[1.0] * missing, 1.0],
                len(current.tokens),
            )
        )
        current, last_comma = Chunk(), -1

    texts = [convert(t) if convert else t for t, w in fragments if not is_break(t, w)]
    encoded = iter(tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"] if texts else [])
    for text, weight in fragments:
        if is_break(text, weight):
            close()
            continue
        for token in next(encoded):
            if token == comma:
                last_comma = len(current.tokens)
            elif (
                comma_backtrack
                and len(current.tokens) == CHUNK_LENGTH
                and last_comma != -1
                and len(current.tokens) - last_comma <= comma_backtrack
            ):
                cut = last_comma + 1
                moved = Chunk(current.tokens[cut:], current.weights[cut:])
                current = Chunk(current.tokens[:cut], current.weights[:cut])
                close()
                current = moved
            if len(current.tokens) == CHUNK_LENGTH:
                close()
            current.tokens.append(int(token))
            current.weights.append(float(weight))
    if current.tokens or not chunks:
        close()
    return chunks
