"""The real CLIP tokenizer, built offline from open_clip's BPE file."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from atelier.clip_vocab import BPE_NAME, VocabularyNotFound, installed_bpe_file, write_clip_tokenizer


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def test_vocabulary_has_clips_49408_tokens_from_48894_merges(tokenizer_dir: Path) -> None:
    """vocab.json has 49 408 ids in order; merges.txt has the version line and 48 894 merges."""
    vocab = json.loads((tokenizer_dir / "vocab.json").read_text(encoding="utf-8"))
    merges = (tokenizer_dir / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert sorted(vocab.values()) == list(range(49_408))
    assert (vocab["!"], vocab["<|startoftext|>"], vocab["<|endoftext|>"]) == (0, 49_406, 49_407)
    assert merges[0] == "#version: 0.2" and len(merges) == 1 + 48_894


def test_transformers_tokenizes_like_openai_clip(tokenizer_dir: Path) -> None:
    """CLIPTokenizer over the written files gives OpenAI CLIP's ids for "a photo of a cat"."""
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(tokenizer_dir))
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokenizer.model_max_length == 77 and tokenizer.pad_token == "<|endoftext|>"


def test_the_wheel_itself_is_a_source(tmp_path: Path) -> None:
    """An open_clip_torch wheel file works as --bpe, giving the same vocabulary as the installed file."""
    wheel = tmp_path / "open_clip_torch-3.3.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(installed_bpe_file(), f"open_clip/{BPE_NAME}")
    from_wheel = write_clip_tokenizer(tmp_path / "a", wheel)
    from_file = write_clip_tokenizer(tmp_path / "b", installed_bpe_file())
    assert (from_wheel / "vocab.json").read_bytes() == (from_file / "vocab.json").read_bytes()


def test_sd2_padding(tmp_path: Path) -> None:
    """SD2 and SDXL's second encoder pad with "!"; the configs say so."""
    folder = write_clip_tokenizer(tmp_path / "t", pad_token="!")
    assert json.loads((folder / "special_tokens_map.json").read_text())["pad_token"] == "!"


def test_a_file_that_is_not_the_bpe_list_is_refused(tmp_path: Path) -> None:
    """A gzip of something else is named and refused, not turned into a broken vocabulary."""
    bad = tmp_path / "other.txt.gz"
    bad.write_bytes(gzip.compress(b"#version\nab cd\n"))
    with pytest.raises(VocabularyNotFound, match="expected 48894 merges"):
        write_clip_tokenizer(tmp_path / "t", bad)


def test_missing_source_is_named(tmp_path: Path) -> None:
    """A --bpe path that does not exist is named in the message."""
    with pytest.raises(VocabularyNotFound, match=r"nowhere.txt.gz: no such file"):
        write_clip_tokenizer(tmp_path / "t", tmp_path / "nowhere.txt.gz")
