"""The remix form: a modal prefilled with an image's prompt, negative, seed, steps and CFG.

Opened by /remix, the ✏️ button on results and the "Remix with Atelier" context menu. A modal must
be the *first* answer to an interaction (it cannot follow a defer), so the lookup that prefills it
gets a budget well inside Discord's 3 seconds, and a slow database gets a sentence instead of a
dead interaction.

The submit is routed by the modal's custom id (`atelier:remix:<image id>`, or `atelier:remix:x<key>`
for a recipe parked by `bot.store_commands.stash`), not by a modal object kept in memory: the
modal is stopped before it is sent, so discord.py never stores it, and `AtelierBot.on_interaction`
hands every submit here. A form opened before a bot restart therefore still submits after it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import discord
from discord import ui

from atelier.errors import AtelierError, InvalidInput
from atelier.recipe import MAX_PROMPT_CHARS
from bot import messages, store_commands
from bot.members import author_of, where_of
from bot.replies import answer_privately
from bot.store_commands import RemixSource
from bot.tracking import track

if TYPE_CHECKING:
    from bot.client import AtelierBot

log = logging.getLogger(__name__)

PREFIX = "atelier:remix:"
SUBMIT = re.compile(r"^atelier:remix:(?P<target>[1-9][0-9]{0,18}|x[0-9a-f]{16})$")
LOOKUP_SECONDS = 2.0
RANDOM_WORDS = ("", "-1", "random", "new")
TEXT_LIMIT = 4000  # Discord's longest text input value
SLOW = "❌ The gallery is slow to answer right now; please try again in a moment."


def remix_modal(custom_id: str, source: RemixSource, title: str = "Remix") -> ui.Modal:
    """The five inputs Discord allows, prefilled; stopped so discord.py does not keep it (see above)."""
    recipe = source.recipe
    modal = ui.Modal(title=title[:45], custom_id=custom_id)
    prompt_limit = min(MAX_PROMPT_CHARS, TEXT_LIMIT)
    inputs: tuple[ui.TextInput[Any], ...] = (
        ui.TextInput(
            label="Prompt",
            custom_id="prompt",
            style=discord.TextStyle.paragraph,
            default=str(recipe.get("prompt", ""))[:prompt_limit],
            max_length=prompt_limit,
        ),
        ui.TextInput(
            label="Negative prompt",
            custom_id="negative",
            style=discord.TextStyle.paragraph,
            default=str(recipe.get("negative_prompt", ""))[:prompt_limit],
            max_length=prompt_limit,
            required=False,
        ),
        ui.TextInput(
            label="Seed (keep it, or empty for a new one)",
            custom_id="seed",
            default=str(source.seed) if source.seed >= 0 else "",
            placeholder="empty or -1: a new random seed",
            max_length=12,
            required=False,
        ),
        ui.TextInput(label="Steps", custom_id="steps", default=str(recipe.get("steps", 20)), max_length=4),
        ui.TextInput(label="CFG scale", custom_id="cfg", default=str(recipe.get("cfg_scale", 7.0)), max_length=6),
    )
    for text_input in inputs:
        modal.add_item(text_input)
    modal.stop()
    return modal


def submitted_values(data: Mapping[str, Any]) -> dict[str, str]:
    """custom_id -> value of a modal submit's text inputs (in action rows, or in labels)."""
    values: dict[str, str] = {}

    def walk(component: Mapping[str, Any]) -> None:
        if "custom_id" in component and "value" in component:
            values[str(component["custom_id"])] = str(component["value"] or "")
        for child in component.get("components") or []:
            walk(child)
        if isinstance(component.get("component"), Mapping):
            walk(component["component"])

    for row in data.get("components") or []:
        walk(row)
    return values


def form_changes(values: Mapping[str, str]) -> dict[str, Any]:
    """Recipe changes from the form; a number that is not one is refused naming its input."""
    changes: dict[str, Any] = {
        "prompt": values.get("prompt", ""),
        "negative_prompt": values.get("negative", ""),
    }
    seed = values.get("seed", "").strip()
    changes["seed"] = -1 if seed.lower() in RANDOM_WORDS else _number("seed", seed, int)
    changes["steps"] = _number("steps", values.get("steps", "").strip(), int)
    changes["cfg_scale"] = _number("cfg_scale", values.get("cfg", "").strip(), float)
    return changes


def _number(name: str, text: str, kind: Callable[[str], Any]) -> Any:
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise InvalidInput(name, f"must be {what}, got {text[:20]!r}") from None


async def open_form(
    interaction: discord.Interaction[AtelierBot], custom_id: str, load: Callable[[], RemixSource], title: str
) -> None:
    """Look the source up within the budget, then answer with the modal (its only possible answer)."""
    try:
        source = await asyncio.wait_for(asyncio.to_thread(load), timeout=LOOKUP_SECONDS)
    except TimeoutError:
        log.warning("%s: the lookup took over %.1f s; the member is asked to retry", custom_id, LOOKUP_SECONDS)
        await answer_privately(interaction, SLOW)
        return
    except AtelierError as error:
        await answer_privately(interaction, messages.input_error(error))
        return
    await interaction.response.send_modal(remix_modal(custom_id, source, title))


async def open_for_image(interaction: discord.Interaction[AtelierBot], image_id: int) -> None:
    settings = interaction.client.settings
    load = lambda: store_commands.gallery_source(settings, image_id)  # noqa: E731
    await open_form(interaction, f"{PREFIX}{image_id}", load, f"Remix #{image_id}")


async def on_submit(interaction: discord.Interaction[AtelierBot], target: str) -> None:
    """The form came back: a derived job, delivered like /draw."""
    received = time.monotonic()
    await interaction.response.defer(thinking=True)
    bot = interaction.client
    author = author_of(interaction)
    data: Mapping[str, Any] = dict(interaction.data or {})
    try:
        changes = form_changes(submitted_values(data))
        if target.startswith("x"):
            source = await asyncio.to_thread(store_commands.stashed, bot.settings, target[1:])
        else:
            source = await asyncio.to_thread(store_commands.gallery_source, bot.settings, int(target))
        queued = await asyncio.to_thread(
            store_commands.submit_remix, bot.settings, author, where_of(interaction), source, changes
        )
    except AtelierError as error:
        await answer_privately(interaction, messages.input_error(error))
        return
    note = f"remix of image #{source.parent_image_id}" if source.parent_image_id else ""
    if source.note:
        note = f"{note}\n{source.note}".strip()
    await track(interaction, queued, received, note)
