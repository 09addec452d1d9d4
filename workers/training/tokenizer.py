"""A CLIP tokenizer for the bundled model's own vocabulary.

Real SD checkpoints ship OpenAI's 49k-token CLIP BPE; fetching it needs the Hub, and a 0.6M-parameter text encoder
has no use for it. We instead learn BPE merges on the project's vocabulary until every word is one token (a few
lines of plain BPE with ties broken alphabetically, so every run gives the same ids: the `tokenizers` trainer breaks
ties in hash order, which gave each training run different token ids and so a different model), then save it as
the ordinary `vocab.json` + `merges.txt` pair, so `CLIPTokenizer.from_pretrained` (and diffusers' single-file loader)
read it exactly like the real one: lower-casing, `</w>` word ends, bos/eos = pad like CLIP,
77 positions. Unknown words still tokenize, letter by letter, instead of collapsing to `<|endoftext|>`.
"""

from __future__ import annotations

import itertools
import json
import string
from pathlib import Path

from transformers import CLIPTokenizer

from workers.training.data import vocabulary

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
MAX_LENGTH = 77
_ALPHABET = list(string.ascii_lowercase + string.digits + string.punctuation)


def train_vocab_and_merges(words: list[str]) -> tuple[dict[str, int], list[str]]:
    """BPE-learn merges on the word list until each word is a single `word</w>` token; deterministic.

    Ids: bos, eos, then every character alone and word-final (so unknown words spell out), then one id per merge
    in the order learnt. Applying the merges by rank, as CLIP's tokenizer does, rebuilds each word's single token.
    """
    segmented = {word: (*word[:-1], word[-1] + "</w>") for word in sorted(set(words))}
    characters = sorted({*_ALPHABET, *(c for w in words for c in w)})
    vocab: dict[str, int] = {BOS: 0, EOS: 1}
    for symbol in [*characters, *(c + "</w>" for c in characters)]:
        vocab.setdefault(symbol, len(vocab))
    merges: list[str] = []
    while True:
        counts: dict[tuple[str, str], int] = {}
        for parts in segmented.values():
            for pair in itertools.pairwise(parts):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            return vocab, merges
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merged = best[0] + best[1]
        merges.append(f"{best[0]} {best[1]}")
        vocab.setdefault(merged, len(vocab))
        segmented = {word: _merge(parts, best, merged) for word, parts in segmented.items()}


def _merge(parts: tuple[str, ...], pair: tuple[str, str], merged: str) -> tuple[str, ...]:
    """`parts` with every non-overlapping occurrence of `pair`, left to right, replaced by `merged`."""
    out: list[str] = []
    i = 0
    while i < len(parts):
        if i + 1 < len(parts) and (parts[i], parts[i + 1]) == pair:
            out.append(merged)
            i += 2
        else:
            out.append(parts[i])
            i += 1
    return tuple(out)


def save_tokenizer_files(directory: Path, words: list[str] | None = None) -> Path:
    """Write vocab.json, merges.txt and the special-token config CLIP uses."""
    vocab, merges = train_vocab_and_merges(words or vocabulary())
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=0) + "\n")
    (directory / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{m}\n" for m in merges))
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": MAX_LENGTH,
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,
        "unk_token": EOS,
        "do_lower_case": True,
        "clean_up_tokenization_spaces": True,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    special = {"bos_token": BOS, "eos_token": EOS, "pad_token": EOS, "unk_token": EOS}
    (directory / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")
    return directory


def load_tokenizer(directory: Path) -> CLIPTokenizer:
    return CLIPTokenizer.from_pretrained(str(directory), local_files_only=True)
