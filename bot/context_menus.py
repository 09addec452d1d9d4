"""Message context menus: "Show parameters" and "Remix with Atelier" on any message with an image.

Where the parameters come from, best first: a result message of ours is looked up in the gallery
(by its files' names, `atelier_<job>_<index>_<seed>.png`, else by the message id recorded at
delivery; its recipe, with lineage for a remix); any other message's first image attachment is read for
A1111's "parameters" PNG chunk (only up to the pixels, `bot.png_text`); a PNG without that chunk is
still recognised when its bytes are a stored gallery image (files are stored under their sha256).

"Show parameters" defers first. "Remix with Atelier" must answer with its form, so the whole search
gets a budget inside Discord's 3 seconds and a slow one is answered with a sentence.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import discord
from discord import app_commands

from atelier.errors import AtelierError, NotFound
from atelier.infotext import parse_infotext
from bot import messages, png_text, remix, store_commands
from bot.replies import answer_privately
from bot.store_commands import RemixSource

if TYPE_CHECKING:
    from bot.client import AtelierBot

log = logging.getLogger(__name__)

OUR_FILE = re.compile(r"(?:SPOILER_)?atelier_([1-9][0-9]{0,18})_([0-9]{1,2})_[0-9]+\.png")
DOWNLOAD_SECONDS = 10.0
REMIX_BUDGET_SECONDS = 2.3
NO_IMAGE = "❌ This message has no image of ours, and no PNG attachment with A1111 parameters."


@dataclass(frozen=True)
class Found:
    infotext: str
    gallery: RemixSource | None  # set when the image is in the gallery


def _first_image(message: discord.Message) -> discord.Attachment | None:
    for attachment in message.attachments:
        kind = attachment.content_type or ""
        if kind.startswith("image/") or attachment.filename.lower().endswith(".png"):
            return attachment
    return None


async def find(bot: AtelierBot, message: discord.Message, download_seconds: float) -> Found | None:
    """The infotext behind a message's image, and its gallery record when it has one."""
    settings = bot.settings
    if bot.user is not None and message.author.id == bot.user.id:
        named = next((m for a in message.attachments if (m := OUR_FILE.fullmatch(a.filename))), None)
        if named is not None:  # the delivery names files after their job and index
            ours = await asyncio.to_thread(store_commands.job_image, settings, int(named[1]), int(named[2]))
        else:
            ours = await asyncio.to_thread(store_commands.message_image, settings, message.id)
        if ours is not None:
            return Found(ours[1], ours[0])
    attachment = _first_image(message)
    if attachment is None:
        return None
    try:
        text, data = await png_text.fetch(attachment.url, download_seconds)
    except png_text.NotPng:
        return None
    except aiohttp.ClientError as exc:
        log.info("attachment %s could not be read: %s", attachment.url, exc)
        return None
    if text:
        return Found(text, None)
    if data is not None:
        stored = await asyncio.to_thread(store_commands.file_image, settings, data)
        if stored is not None:
            return Found(stored[1], stored[0])
    return None


async def show_parameters(interaction: discord.Interaction[AtelierBot], message: discord.Message) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    found = await find(interaction.client, message, DOWNLOAD_SECONDS)
    if found is None:
        await answer_privately(interaction, NO_IMAGE)
        return
    block = messages.parameters(found.infotext)
    if block is not None:
        await interaction.followup.send(block, ephemeral=True)
        return
    attached = discord.File(io.BytesIO(found.infotext.encode()), filename="parameters.txt")
    await interaction.followup.send("The parameters are too long for a message:", file=attached, ephemeral=True)


async def _form_target(bot: AtelierBot, message: discord.Message) -> tuple[str, RemixSource]:
    """The modal's custom id and prefill for a message's image; `NotFound` when it has none, and
    `InvalidInput` when its infotext does not make a recipe."""
    found = await find(bot, message, REMIX_BUDGET_SECONDS)
    if found is None:
        raise NotFound(NO_IMAGE.removeprefix("❌ "))
    if found.gallery is not None and found.gallery.parent_image_id is not None:
        return f"{remix.PREFIX}{found.gallery.parent_image_id}", found.gallery
    recipe = parse_infotext(found.infotext)
    key = await asyncio.to_thread(store_commands.stash_external, bot.settings, recipe.to_json())
    return f"{remix.PREFIX}x{key}", RemixSource(recipe.to_json(), recipe.seed, None)


async def remix_message(interaction: discord.Interaction[AtelierBot], message: discord.Message) -> None:
    try:
        custom_id, source = await asyncio.wait_for(_form_target(interaction.client, message), REMIX_BUDGET_SECONDS)
    except TimeoutError:
        await answer_privately(interaction, remix.SLOW)
        return
    except AtelierError as error:
        await answer_privately(interaction, messages.input_error(error))
        return
    await interaction.response.send_modal(remix.remix_modal(custom_id, source, "Remix with Atelier"))


SHOW_PARAMETERS = app_commands.ContextMenu(name="Show parameters", callback=show_parameters)
REMIX_WITH_ATELIER = app_commands.ContextMenu(name="Remix with Atelier", callback=remix_message)
MENUS: tuple[app_commands.ContextMenu, ...] = (SHOW_PARAMETERS, REMIX_WITH_ATELIER)
