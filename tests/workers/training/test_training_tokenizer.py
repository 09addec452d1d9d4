"""The bundled model's CLIP tokenizer, built from the project's vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import CLIPTokenizer

from workers.training import data
from workers.training.tokenizer import save_tokenizer_files


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> CLIPTokenizer:
    directory = save_tokenizer_files(tmp_path_factory.mktemp("tok"))
    return CLIPTokenizer.from_pretrained(str(directory), local_files_only=True)


def test_saved_as_plain_clip_files(tmp_path: Path) -> None:
    """Only vocab.json + merges.txt (+ small configs) are written, like openai/clip-vit-large-patch14."""
    save_tokenizer_files(tmp_path)
    assert (tmp_path / "merges.txt").read_text().startswith("#version: 0.2\n")
    assert {p.name for p in tmp_path.iterdir()} >= {"vocab.json", "merges.txt"}
    assert not (tmp_path / "tokenizer.json").exists()


def test_every_vocabulary_word_is_one_token(tokenizer: CLIPTokenizer) -> None:
    """Whole-word `</w>` tokens: the tiny text encoder sees words, not letters."""
    for word in data.vocabulary():
        assert len(tokenizer(word).input_ids) == 3, word


def test_caption_round_trips(tokenizer: CLIPTokenizer) -> None:
    """encode -> decode gives the caption back."""
    text = "a large yellow triangle on a purple background , top left"
    ids = tokenizer(text).input_ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_special_tokens_like_clip(tokenizer: CLIPTokenizer) -> None:
    """bos first, eos last, eos doubles as pad, 77 positions."""
    ids = tokenizer("a red circle", padding="max_length", max_length=tokenizer.model_max_length).input_ids
    assert tokenizer.model_max_length == 77 and len(ids) == 77
    assert ids[0] == tokenizer.bos_token_id
    assert ids[4] == tokenizer.eos_token_id == tokenizer.pad_token_id == ids[-1]


def test_unknown_words_are_spelled_not_dropped(tokenizer: CLIPTokenizer) -> None:
    """A word outside the vocabulary becomes letters instead of collapsing to <|endoftext|>."""
    ids = tokenizer("zebra").input_ids[1:-1]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == "zebra"


def test_every_build_gives_the_same_files(tmp_path: Path) -> None:
    """Token ids do not depend on the run (a different id order would train a different model from one seed)."""
    first, second = save_tokenizer_files(tmp_path / "a"), save_tokenizer_files(tmp_path / "b")
    for name in ("vocab.json", "merges.txt"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
