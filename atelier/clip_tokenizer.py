"""CLIP's byte-level BPE in plain Python, for counting tokens where transformers is not installed.

The gallery and the bot show A1111's "26/75" token counts as a member types, and they do not carry
the render dependencies. This reads the same `vocab.json` and `merges.txt` a checkpoint's
`tokenizer/` folder ships and follows CLIP's published scheme: clean whitespace, lower-case, split
with CLIP's pattern, map bytes to printable stand-ins, append `</w>` to each word's last symbol, and
merge the best-ranked pair until none applies. Its ids equal transformers' CLIPTokenizer on the same
files (tested) for tokenizers whose pad token is `<|endoftext|>` (SD1.x, and SDXL's first one, which
is what A1111 counts with); it is only used to count and place tokens, never to feed a text encoder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import regex

from atelier.clip_vocab import byte_encoder

PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)
START, END = "<|startoftext|>", "<|endoftext|>"


class ClipTokenizer:
    """Token ids of text, with the special ids the chunking needs (`bos_token_id`, `eos_token_id`, …)."""

    def __init__(self, vocab: dict[str, int], merges: Sequence[str], pad_token: str = END) -> None:
        self.vocab = vocab
        self.ranks = {tuple(line.split()): rank for rank, line in enumerate(merges)}
        self.bytes_to_symbols = byte_encoder()
        self.bos_token_id = vocab[START]
        self.eos_token_id = vocab[END]
        self.pad_token_id = vocab.get(pad_token, self.eos_token_id)
        self._words: dict[str, list[int]] = {}

    @classmethod
    def from_folder(cls, folder: Path) -> ClipTokenizer:
        """From `vocab.json` + `merges.txt` (the slow tokenizer's files), else from a fast tokenizer's
        `tokenizer.json`, which holds the same vocabulary and merges."""
        if (folder / "vocab.json").is_file():
            vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            lines = (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
            merges = [line for line in lines if line and not line.startswith("#version")]
        else:
            model = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))["model"]
            vocab = model["vocab"]
            merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model["merges"]]
        return cls(vocab, merges, _pad_token(folder))

    def get_vocab(self) -> dict[str, int]:
        return self.vocab

    def encode(self, text: str) -> list[int]:
        """Ids without BOS/EOS."""
        ids: list[int] = []
        for word in PATTERN.findall(" ".join(text.split()).lower()):
            if word not in self._words:
                symbols = "".join(self.bytes_to_symbols[b] for b in word.encode("utf-8"))
                self._words[word] = [self.vocab.get(piece, self.eos_token_id) for piece in self._bpe(symbols)]
            ids += self._words[word]
        return ids

    def __call__(self, texts: Sequence[str], **_: Any) -> dict[str, list[list[int]]]:
        """The slice of transformers' call signature the A1111 chunking uses (no special tokens)."""
        return {"input_ids": [self.encode(text) for text in texts]}

    def _bpe(self, symbols: str) -> list[str]:
        if symbols in (START, END):
            return [symbols]
        word = [*symbols[:-1], symbols[-1] + "</w>"]
        while len(word) > 1:
            ranked = [(self.ranks[pair], i) for i, pair in enumerate(pairwise(word)) if pair in self.ranks]
            if not ranked:
                break
            pair = (word[min(ranked)[1]], word[min(ranked)[1] + 1])
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == pair:  # every occurrence, left to right
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return word


def _pad_token(folder: Path) -> str:
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = folder / name
        if path.is_file():
            value = json.loads(path.read_text(encoding="utf-8")).get("pad_token")
            if value:
                return str(value.get("content", END)) if isinstance(value, dict) else str(value)
    return END


def has_tokenizer(folder: Path) -> bool:
    return (folder / "vocab.json").is_file() or (folder / "tokenizer.json").is_file()


@lru_cache(maxsize=8)
def tokenizer_for(folder: Path) -> ClipTokenizer:
    """One tokenizer per folder per process (building the merge ranks takes a moment)."""
    return ClipTokenizer.from_folder(folder)
