"""Token counts for `atelier prompt check`, with a real CLIP tokenizer."""

from __future__ import annotations

from pathlib import Path


def test_token_counts_per_chunk(tmp_path: Path) -> None:
    """workers.prompt_check counts the tokens of each 75-token chunk as A1111 shows them."""
    from transformers import CLIPTokenizer

    from tests.helpers.tiny_model import write_tokenizer
    from workers.prompt_check import chunk_counts

    write_tokenizer(tmp_path)
    tokenizer = CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"), model_max_length=77)
    assert chunk_counts(tokenizer, "a cat", "prompt", 20) == [4]  # the test vocab spells "cat" out
    assert chunk_counts(tokenizer, "a " * 100, "prompt", 20) == [75, 25]
    assert chunk_counts(tokenizer, "a BREAK cat", "prompt", 20) == [1, 3]
    assert chunk_counts(tokenizer, "", "negative_prompt", 20) == []
