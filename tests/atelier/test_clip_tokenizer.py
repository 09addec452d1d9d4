"""The plain-Python CLIP tokenizer gives transformers' ids on the tokenizers the store ships."""

from __future__ import annotations

from pathlib import Path

import pytest

from atelier.clip_tokenizer import ClipTokenizer

CONFIGS = Path(__file__).resolve().parents[2] / "models" / "configs"
PROMPTS = [
    "a photo of a cat",
    "(masterpiece:1.2), best quality, 1girl, solo, looking at viewer, <lora:ink:0.8>",
    "A Red  circle\non a BLUE background!!",
    "naïve café 東京 😀 it's won't they'll",
    "photo-realistic, 8k uhd, dslr, [[blurry]], (((detailed)))",
    "",
]


@pytest.mark.parametrize("folder", ["sd1/tokenizer", "sdxl/tokenizer", "atelier-tiny-v1/tokenizer"])
def test_ids_equal_transformers(folder: str) -> None:
    from transformers import CLIPTokenizer

    ours = ClipTokenizer.from_folder(CONFIGS / folder)
    theirs = CLIPTokenizer.from_pretrained(str(CONFIGS / folder))
    for prompt in PROMPTS:
        assert ours.encode(prompt) == theirs(prompt, add_special_tokens=False)["input_ids"], prompt


def test_openai_clip_ids_of_a_photo_of_a_cat() -> None:
    tokenizer = ClipTokenizer.from_folder(CONFIGS / "sd1" / "tokenizer")
    ids = [tokenizer.bos_token_id, *tokenizer.encode("a photo of a cat"), tokenizer.eos_token_id]
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_a_fast_tokenizers_single_file_gives_the_same_ids(tmp_path: Path) -> None:
    """Diffusers folders saved with a fast tokenizer carry only tokenizer.json."""
    from transformers import CLIPTokenizerFast

    CLIPTokenizerFast.from_pretrained(str(CONFIGS / "sd1" / "tokenizer")).save_pretrained(str(tmp_path))
    for leftover in ("vocab.json", "merges.txt"):
        (tmp_path / leftover).unlink(missing_ok=True)
    ours, reference = ClipTokenizer.from_folder(tmp_path), ClipTokenizer.from_folder(CONFIGS / "sd1" / "tokenizer")
    assert all(ours.encode(prompt) == reference.encode(prompt) for prompt in PROMPTS)
