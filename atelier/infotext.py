"""A1111 "parameters" infotext: the text that PNG Info, Civitai and A1111 itself read back.

Layout: prompt, then an optional "Negative prompt: ..." line, then one line of `Key: value` pairs
joined by ", ", values quoted as JSON when they contain a comma, colon or newline.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from atelier.recipe import Recipe

_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE = re.compile(r"^(\d+)x(\d+)$")
NEGATIVE_PREFIX = "Negative prompt:"


def _quote(value: object) -> str:
    text = str(value)
    if any(ch in text for ch in ",\n:"):
        return json.dumps(text, ensure_ascii=False)
    return text


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def build_infotext(recipe: Recipe, *, seed: int, model_name: str, model_hash: str, version: str = "atelier") -> str:
    """The infotext of one image of a recipe (each image of a batch has its own seed)."""
    params: dict[str, object] = {
        "Steps": recipe.steps,
        "Sampler": recipe.sampler,
        "CFG scale": _number(recipe.cfg_scale),
        "Seed": seed,
        "Size": f"{recipe.width}x{recipe.height}",
        "Model hash": model_hash,
        "Model": model_name,
        "Version": version,
    }
    line = ", ".join(f"{key}: {_quote(value)}" for key, value in params.items() if value not in (None, ""))
    negative = f"\n{NEGATIVE_PREFIX} {recipe.negative_prompt}" if recipe.negative_prompt else ""
    return f"{recipe.prompt}{negative}\n{line}".strip()


def parse_infotext(text: str) -> dict[str, Any]:
    """Read infotext written by A1111 or by Atelier into a flat dict of keys as A1111 names them."""
    *lines, last = text.strip().split("\n")
    if len(_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt: list[str] = []
    negative: list[str] = []
    in_negative = False
    for line in lines:
        if line.startswith(NEGATIVE_PREFIX):
            in_negative = True
            line = line[len(NEGATIVE_PREFIX) :].strip()
        (negative if in_negative else prompt).append(line)
    result: dict[str, Any] = {"Prompt": "\n".join(prompt), "Negative prompt": "\n".join(negative)}
    for key, raw in _PARAM.findall(last):
        value = raw.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        size = _SIZE.match(value) if isinstance(value, str) else None
        if size:
            result[f"{key}-1"], result[f"{key}-2"] = size.group(1), size.group(2)
        else:
            result[key] = value
    return result
