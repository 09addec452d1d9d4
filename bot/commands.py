"""/queue, /models, /reroll-exact and /remix: thin commands over atelier's services.

Each defers before its first database or broker call (Discord's 3 seconds), except /remix, whose
only possible first answer is its form (`bot.remix` gives the lookup a budget inside the deadline).
Problems are answered privately in a sentence (`AtelierError.message`), never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from atelier.errors import AtelierError
from atelier.settings import Settings
from bot import messages, pages, remix, store_commands
from bot.choices import parse_image_ref
from bot.components import queue_view
from bot.members import author_of, where_of
from bot.replies import answer_privately
from bot.store import Author
from bot.tracking import track

if TYPE_CHECKING:
    from bot.client import AtelierBot

log = logging.getLogger(__name__)

IMAGE_HELP = "A gallery image id (42) or a link to it (…/images/42)"
EMBED_COLOUR = 0x7C5CFF


def _author(interaction: discord.Interaction[AtelierBot]) -> Author:
    return author_of(interaction)


async def queue_listing(settings: Settings, author: Author) -> tuple[str, discord.ui.View]:
    standing = await asyncio.to_thread(store_commands.my_jobs, settings, author)
    return pages.queue_lines(standing), queue_view([job.job_id for job in standing])


@app_commands.command(name="queue", description="Your waiting and rendering jobs, their places in line, ✖️ to cancel")
async def queue(interaction: discord.Interaction[AtelierBot]) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    content, view = await queue_listing(interaction.client.settings, _author(interaction))
    await interaction.followup.send(content, view=view, ephemeral=True)


@app_commands.command(name="models", description="The checkpoints and LoRAs you can use, and which are warm")
async def models(interaction: discord.Interaction[AtelierBot]) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    entries = await asyncio.to_thread(store_commands.catalogue, interaction.client.settings)
    for page in pages.model_pages(entries):
        embeds = [discord.Embed(title=title, description=text, colour=EMBED_COLOUR) for title, text in page]
        await interaction.followup.send(embeds=embeds, ephemeral=True)


@app_commands.command(
    name="reroll-exact", description="Render a gallery image again from its stored recipe and say if it matched"
)
@app_commands.describe(image=IMAGE_HELP)
async def reroll_exact(interaction: discord.Interaction[AtelierBot], image: app_commands.Range[str, 1, 300]) -> None:
    received = time.monotonic()
    await interaction.response.defer(thinking=True)
    bot = interaction.client
    try:
        image_id = parse_image_ref(image)
        queued = await asyncio.to_thread(
            store_commands.submit_exact, bot.settings, _author(interaction), where_of(interaction), image_id
        )
    except AtelierError as error:
        await answer_privately(interaction, messages.input_error(error))
        return
    note = f"re-rendering image #{image_id} exactly; the result will say whether the pixels match"
    await track(interaction, queued, received, note)


@app_commands.command(name="remix", description="Open a gallery image's recipe in a form, change it, render it")
@app_commands.describe(image=IMAGE_HELP)
async def remix_command(interaction: discord.Interaction[AtelierBot], image: app_commands.Range[str, 1, 300]) -> None:
    try:
        image_id = parse_image_ref(image)
    except AtelierError as error:
        await answer_privately(interaction, messages.input_error(error))
        return
    await remix.open_for_image(interaction, image_id)


COMMANDS: tuple[app_commands.Command[Any, Any, None], ...] = (queue, models, reroll_exact, remix_command)
