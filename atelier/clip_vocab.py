"""The real CLIP tokenizer, built offline from the BPE file that the `open_clip_torch` wheel ships.

SD1.x and SDXL use OpenAI's CLIP tokenizer (49 408 tokens). Its vocabulary is not downloadable here
(workers never call a model hub), but `open_clip/bpe_simple_vocab_16e6.txt.gz` holds the merge list
it is made from: the first 48 894 merges, on top of the 256 byte symbols and their word-final forms,
plus the start and end tokens, give exactly `openai/clip-vit-large-patch14`'s `vocab.json` and
`merges.txt`. This module writes those files in the layout `transformers.CLIPTokenizer` reads. It is
plain Python: the open_clip package is located, never imported (importing it would load torch).
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import zipfile
from pathlib import Path

BPE_NAME = "bpe_simple_vocab_16e6.txt.gz"
MERGES = 48_894  # OpenAI CLIP's vocabulary size 49 408, less 2 x 256 byte symbols and 2 special tokens
VOCAB_SIZE = 49_408
START, END = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 77


class VocabularyNotFound(Exception):
    """The BPE file is not where it was looked for; the message says where and how to get it."""


def byte_encoder() -> dict[int, str]:
    """CLIP's printable stand-in for each byte, in vocabulary order: printable bytes keep their own
    character, the rest map to code points from 256 up (so BPE never sees whitespace or control bytes)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {byte: chr(code) for byte, code in zip(printable, codes, strict=True)}


def byte_symbols() -> list[str]:
    """The byte stand-ins in vocabulary order (the first 256 entries of CLIP's vocabulary)."""
    return list(byte_encoder().values())


def installed_bpe_file() -> Path:
    """The BPE file inside the installed open_clip package (`make install` adds it without dependencies)."""
    spec = importlib.util.find_spec("open_clip")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / BPE_NAME
        if candidate.is_file():
            return candidate
    raise VocabularyNotFound(
        f"{BPE_NAME} not found: install it with `pip install --no-deps open_clip_torch==3.3.0` (its other "
        "dependencies would replace torch's operators) or pass the file or the open_clip_torch wheel with --bpe"
    )


def read_merges(source: Path) -> list[str]:
    """The merge list from `source`: the .txt.gz itself, or an open_clip_torch wheel that holds it."""
    try:
        if source.suffix == ".whl":
            with zipfile.ZipFile(source) as wheel:
                packed = wheel.read(f"open_clip/{BPE_NAME}")
        else:
            packed = source.read_bytes()
        text = gzip.GzipFile(fileobj=io.BytesIO(packed)).read().decode("utf-8")
    except FileNotFoundError as missing:
        raise VocabularyNotFound(f"{source}: no such file") from missing
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as bad:
        raise VocabularyNotFound(f"{source}: not a gzipped CLIP BPE file or an open_clip_torch wheel ({bad})") from bad
    # Line 0 is the version header; the vocabulary uses the next MERGES lines.
    merges = [line for line in text.split("\n")[1 : MERGES + 1] if line]
    if len(merges) != MERGES or any(len(line.split()) != 2 for line in merges):
        raise VocabularyNotFound(f"{source}: expected {MERGES} merges of two symbols, found {len(merges)} lines")
    return merges


def build_vocab(merges: list[str]) -> dict[str, int]:
    """Token ids in CLIP's order: byte symbols, their word-final forms, one token per merge, then the
    start and end tokens (49 406 and 49 407)."""
    symbols = byte_symbols()
    tokens = [*symbols, *(f"{s}</w>" for s in symbols), *("".join(m.split()) for m in merges), START, END]
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE:
        raise VocabularyNotFound(f"the merges give {len(vocab)} distinct tokens, not {VOCAB_SIZE}")
    return vocab


def write_clip_tokenizer(output_dir: Path, source: Path | None = None, *, pad_token: str = END) -> Path:
    """Write vocab.json, merges.txt and the tokenizer configs to `output_dir`.

    `pad_token` is SD1's `<|endoftext|>` by default; SD2 and SDXL's second encoder pad with `!`."""
    merges = read_merges(source or installed_bpe_file())
    vocab = build_vocab(merges)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (output_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    special = {"bos_token": START, "eos_token": END, "unk_token": END, "pad_token": pad_token}
    (output_dir / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": MAX_LENGTH,
        "do_lower_case": True,
        "errors": "replace",
        "add_prefix_space": False,
        **special,
    }
    (output_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return output_dir
