"""The words the bot says, in one place, within Discord's limits.

User text (prompts, error reasons) is echoed with markdown escaped, so a prompt cannot restyle the
message, and every message is clipped to Discord's 2000 characters instead of being refused.
Mentions are disabled client-wide (`AllowedMentions.none()`), so `@everyone` in a prompt pings nobody.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from discord.utils import escape_markdown

from atelier.errors import AtelierError, InvalidInput

MESSAGE_LIMIT = 2000
PROMPT_LIMIT = 1200
# Recipe fields whose /draw option has another name; errors name what the user typed.
OPTION_NAMES = {"negative_prompt": "negative", "cfg_scale": "cfg", "checkpoint": "model"}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quoted(text: str, limit: int = PROMPT_LIMIT) -> str:
    return escape_markdown(clip(text, limit))


def queued(position: int, eta_seconds: float | None, *, via_channel: bool) -> str:
    eta = f", about {round(eta_seconds)} s" if eta_seconds is not None else ""
    text = f"queued — #{position}{eta}"
    if via_channel:
        text += " (longer than a reply can wait: I'll post the result in this channel)"
    return text


def input_error(error: AtelierError) -> str:
    if isinstance(error, InvalidInput):
        option = OPTION_NAMES.get(error.field, error.field)
        return clip(f"❌ **{option}**: {escape_markdown(error.reason)}", MESSAGE_LIMIT)
    return clip(f"❌ {escape_markdown(error.message)}", MESSAGE_LIMIT)


UNEXPECTED = "❌ Something went wrong on our side (it is logged). Please try again in a moment."


def _recipe_line(recipe: Mapping[str, Any], seeds: Sequence[int]) -> str:
    seed_text = ", ".join(str(s) for s in seeds) if seeds else str(recipe.get("seed", "?"))
    parts = [f"seed {seed_text}" if len(seeds) <= 1 else f"seeds {seed_text}"]
    if "steps" in recipe:
        parts.append(f"{recipe['steps']} steps")
    if recipe.get("sampler"):
        parts.append(str(recipe["sampler"]))
    if recipe.get("checkpoint"):
        parts.append(escape_markdown(str(recipe["checkpoint"])))
    return " · ".join(parts)


def result(recipe: Mapping[str, Any], seeds: Sequence[int], notes: Sequence[str] = (), mention: str = "") -> str:
    lines = [f"{mention}**{_quoted(str(recipe.get('prompt', '')))}**"]
    if recipe.get("negative_prompt"):
        lines.append(f"negative: {_quoted(str(recipe['negative_prompt']), 300)}")
    lines.append(_recipe_line(recipe, seeds))
    lines.extend(notes)
    return clip("\n".join(lines), MESSAGE_LIMIT)


def failed(recipe: Mapping[str, Any], reason: str, mention: str = "") -> str:
    lines = [
        f"{mention}❌ render failed: {_quoted(reason, 500)}",
        f"**{_quoted(str(recipe.get('prompt', '')))}**",
        _recipe_line(recipe, ()),
    ]
    return clip("\n".join(lines), MESSAGE_LIMIT)


def cancelled(recipe: Mapping[str, Any], mention: str = "") -> str:
    return clip(f"{mention}render cancelled: **{_quoted(str(recipe.get('prompt', '')))}**", MESSAGE_LIMIT)


def too_large(index: int, size: int, limit: int) -> str:
    return f"(image {index + 1} is {size / 2**20:.1f} MiB, over the {limit / 2**20:.0f} MiB upload limit here)"


def rendering(step: int, total: int) -> str:
    return f"rendering — step {step}/{total}" if total else "rendering…"


def settled(state: str) -> str:
    """What the queued message says once the job is over and its result has its own message."""
    texts = {"done": "✅ done — the result is below", "failed": "❌ render failed — see below"}
    return texts.get(state, "✖️ render cancelled")


def exact_note(image_id: int, match: bool | None) -> str:
    """What a /reroll-exact result says about its pixels."""
    if match is True:
        return f"✅ exact: the pixels are identical to image #{image_id}"
    if match is False:
        return f"⚠️ not exact: the pixels differ from image #{image_id} (another GPU, library version or model file)"
    return f"❔ re-render of image #{image_id}: the worker could not compare the pixels"


def upscale_note(width: int, height: int, factor: float, capped: bool) -> str:
    text = f"upscale to {width}x{height}"
    return text + (f" ({factor:.2f}x: twice the size is over the size limit)" if capped else "")


CODE_FENCE = "```"


def voted(image_id: int, voted: bool, score: int) -> str:
    """The answer to ❤️: the member's vote as it is now, and the image's tally."""
    tally = f"{score} vote{'' if score == 1 else 's'}"
    if voted:
        return f"❤️ You voted for image #{image_id}; it has {tally}. Press ❤️ again to take the vote back."
    return f"🤍 You took back your vote for image #{image_id}; it has {tally}."


def parameters(infotext: str) -> str | None:
    """The infotext in a code block to copy, or None when it does not fit in one message (send a file)."""
    text = infotext.replace(CODE_FENCE, "`\u200b``")  # a fence inside would end the block early
    block = f"{CODE_FENCE}\n{text}\n{CODE_FENCE}"
    return block if len(block) <= MESSAGE_LIMIT else None
