"""A CLIP tokenizer for the bundled model's own vocabulary.

Real SD checkpoints ship OpenAI's 49k-token CLIP BPE; fetching it needs the Hub, and a 0.6M-parameter text encoder
has no use for it. We instead train a byte-level BPE on the project's vocabulary until every word is one token,
then save it as the ordinary `vocab.json` + `merges.txt` pair, so `CLIPTokenizer.from_pretrained` (and diffusers'
single-file loader) read it exactly like the real one: lower-casing, `</w>` word ends, bos/eos = pad like CLIP,
77 positions. Unknown words still tokenize, letter by letter, instead of collapsing to `<|endoftext|>`.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import CLIPTokenizer

from workers.training.data import vocabulary

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
MAX_LENGTH = 77
_ALPHABET = list(string.ascii_lowercase + string.digits + string.punctuation)


def train_vocab_and_merges(words: list[str]) -> tuple[dict[str, int], list[str]]:
    """BPE-train on the word list until each word is a single `word</w>` token."""
    model = models.BPE(unk_token=EOS, end_of_word_suffix="</w>")
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=100_000,
        min_frequency=1,
        special_tokens=[BOS, EOS],
        initial_alphabet=_ALPHABET,
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    # single characters as words give every `x</w>` so unknown words can end on any letter
    corpus = [*words, *_ALPHABET] * 4
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    saved = json.loads(tokenizer.to_str())["model"]
    vocab: dict[str, int] = saved["vocab"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in saved["merges"]]
    return vocab, merges


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
