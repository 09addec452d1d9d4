"""A1111 "parameters" infotext: the text that PNG Info, Civitai and A1111 itself read back.

Layout (tech notes §2.2): prompt, then an optional "Negative prompt: ..." line, then one line of `Key: value`
pairs joined by ", ", values quoted as JSON when they contain a comma, colon or newline, keys in A1111's
order. Optional keys appear only when they differ from A1111's default (Clip skip > 1, Emphasis other than
Original), so an image renders the same when A1111 reads it.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from atelier.prompt import PromptError, parse_prompt
from atelier.recipe import EmbeddingUse, LoraUse, Recipe, parse_recipe

_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE = re.compile(r"^(\d+)x(\d+)$")
NEGATIVE_PREFIX = "Negative prompt:"
HIRES_UPSCALER = "Latent"
# Keys that describe the render rather than the recipe: not kept in `Recipe.extra` when parsing.
_RENDER_KEYS = {"Model hash", "Version", "Lora hashes", "TI hashes", "Hires upscaler", "Size-1", "Size-2"}


def _quote(value: object) -> str:
    text = str(value)
    if any(ch in text for ch in ",\n:"):
        return json.dumps(text, ensure_ascii=False)
    return text


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _hash_list(items: tuple[LoraUse, ...] | tuple[EmbeddingUse, ...]) -> str | None:
    """ "name: 12hex, ..." with ':' and ',' stripped from names, as A1111 writes them; None when empty."""
    pairs = [f"{item.name.replace(':', '').replace(',', '')}: {item.hash}" for item in items if item.hash]
    return ", ".join(pairs) or None


def format_infotext(recipe: Recipe, *, seed: int, model_name: str, model_hash: str, version: str = "atelier") -> str:
    """The infotext of one image of a recipe (each image of a batch has its own seed)."""
    denoise: float | None = recipe.hires_denoise if recipe.hires else recipe.denoising_strength
    params: dict[str, object] = {
        "Steps": recipe.steps,
        "Sampler": recipe.sampler,
        "Schedule type": recipe.schedule_type,
        "CFG scale": _number(recipe.cfg_scale),
        "Seed": seed,
        "Size": f"{recipe.width}x{recipe.height}",
        "Model hash": model_hash or None,
        "Model": model_name or None,
        "Denoising strength": None if denoise is None else _number(denoise),
        "Clip skip": recipe.clip_skip if recipe.clip_skip > 1 else None,
        "Hires upscale": _number(recipe.hires_scale) if recipe.hires else None,
        "Hires steps": recipe.hires_steps if recipe.hires and recipe.hires_steps else None,
        "Hires upscaler": HIRES_UPSCALER if recipe.hires else None,
        "Lora hashes": _hash_list(recipe.loras),
        "TI hashes": _hash_list(recipe.embeddings),
        "Emphasis": recipe.emphasis if recipe.emphasis != "Original" else None,
        "Version": version or None,
    }
    line = ", ".join(
        key if key == value else f"{key}: {_quote(value)}" for key, value in params.items() if value is not None
    )
    negative = f"\n{NEGATIVE_PREFIX} {recipe.negative_prompt}" if recipe.negative_prompt else ""
    return f"{recipe.prompt}{negative}\n{line}".strip()


def build_infotext(recipe: Recipe, *, seed: int, model_name: str, model_hash: str, version: str = "atelier") -> str:
    """Kept for callers written before `format_infotext`; the same text."""
    return format_infotext(recipe, seed=seed, model_name=model_name, model_hash=model_hash, version=version)


def parse_infotext_fields(text: str) -> dict[str, Any]:
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


def _hashes(value: Any) -> dict[str, str]:
    if not isinstance(value, str):
        return {}
    pairs = (item.rpartition(":") for item in value.split(","))
    return {name.strip(): digest.strip() for name, sep, digest in pairs if sep and name.strip()}


def _loras(prompt: str, hashes: dict[str, str]) -> list[dict[str, Any]]:
    """LoRAs with the weights of the prompt's tags (the tags stay in infotext prompts), hashes by name."""
    try:
        refs = parse_prompt(prompt, "prompt").networks
    except PromptError:
        refs = ()
    found = [
        {
            "name": ref.name,
            "weight": ref.te_weight,
            "unet_weight": None if ref.unet_weight == ref.te_weight else ref.unet_weight,
            "hash": hashes.get(ref.name, ""),
        }
        for ref in refs
    ]
    named = {lora["name"] for lora in found}
    return found + [{"name": name, "hash": digest} for name, digest in hashes.items() if name not in named]


def parse_infotext(text: str) -> Recipe:
    """A checked Recipe from A1111's or Atelier's infotext; raises `InvalidInput` naming the bad field.

    Reads both `Sampler: DPM++ 2M Karras` (before A1111 1.9) and `Sampler: DPM++ 2M, Schedule type: Karras`.
    Keys Atelier has no setting for are kept in `extra` under their A1111 names.
    """
    fields = parse_infotext_fields(text)
    hires = "Hires upscale" in fields
    denoise = fields.get("Denoising strength")
    data: dict[str, Any] = {
        "prompt": fields["Prompt"],
        "negative_prompt": fields["Negative prompt"],
        "checkpoint": fields.get("Model", ""),
        "sampler": fields.get("Sampler", ""),
        "schedule_type": fields.get("Schedule type", ""),
        "steps": fields.get("Steps"),
        "cfg_scale": fields.get("CFG scale"),
        "width": fields.get("Size-1"),
        "height": fields.get("Size-2"),
        "seed": fields.get("Seed"),
        "clip_skip": fields.get("Clip skip"),
        "emphasis": fields.get("Emphasis", ""),
        "hires": hires,
        "hires_scale": fields.get("Hires upscale") if hires else None,
        "hires_steps": fields.get("Hires steps") if hires else None,
        "hires_denoise": denoise if hires else None,
        "loras": _loras(fields["Prompt"], _hashes(fields.get("Lora hashes"))),
        "embeddings": [{"name": n, "hash": h} for n, h in _hashes(fields.get("TI hashes")).items()],
    }
    used = {
        "Prompt", "Negative prompt", "Model", "Sampler", "Schedule type", "Steps", "CFG scale", "Seed",
        "Clip skip", "Emphasis", "Hires upscale", "Hires steps",
    }  # fmt: skip
    if hires:
        used.add("Denoising strength")
    recipe = parse_recipe(data)
    extra = {key: value for key, value in fields.items() if key not in used and key not in _RENDER_KEYS}
    return Recipe.from_json({**recipe.to_json(), "extra": extra}) if extra else recipe
