"""Token counts of a prompt as A1111 shows them ("26/75" per chunk), with the checkpoint's real tokenizer.

Run by `atelier prompt check` as `python -m workers.prompt_check TOKENIZER_DIR STEPS PROMPT NEGATIVE`, because
the `atelier` package must not import transformers. Prints JSON: {"prompt": [26], "negative_prompt": [3]}.
Counts are for the prompt as used at step 0 (prompt editing can change them later).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from atelier.prompt import PromptError, parse_prompt
from workers.prompt_encoding import CHUNK_LENGTH, PromptEncoder


def chunk_counts(tokenizer: Any, text: str, field: str, steps: int) -> list[int] | str:
    """Tokens in each 75-token chunk (after comma backtracking and BREAK), or the parse error."""
    try:
        parsed = parse_prompt(text, field, steps=steps)
    except PromptError as error:
        return str(error)
    encoder = PromptEncoder(tokenizer, None)
    padding = {encoder.eos, encoder.pad}
    chunks = encoder.tokenize(parsed.schedule[0].fragments) if text.strip() else []
    return [sum(1 for token in chunk.tokens[1 : CHUNK_LENGTH + 1] if token not in padding) for chunk in chunks]


def main(argv: list[str]) -> int:
    from transformers import CLIPTokenizer

    folder, steps, prompt, negative = argv
    tokenizer = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    result = {
        "prompt": chunk_counts(tokenizer, prompt, "prompt", int(steps)),
        "negative_prompt": chunk_counts(tokenizer, negative, "negative_prompt", int(steps)),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
