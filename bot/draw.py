"""`/draw`: defer, submit through `atelier.services.jobs.submit`, answer with the queue position.

Deferring comes first, before any database or broker call, because Discord invalidates the
interaction if nothing answers within 3 seconds and a database under load can take longer.
Validation is atelier's: the option bounds below are only hints for Discord's client, and a bad
value that gets through is refused by `parse_recipe` with the field named, never clamped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from atelier.errors import AtelierError
from atelier.recipe import MAX_PROMPT_CHARS, MAX_SEED, STEPS_RANGE
from bot import messages, store
from bot.replies import answer_privately
from bot.tracking import track

if TYPE_CHECKING:
    from bot.client import AtelierBot

log = logging.getLogger(__name__)

Prompt = app_commands.Range[str, 1, MAX_PROMPT_CHARS]
Seed = app_commands.Range[int, 0, MAX_SEED]
Steps = app_commands.Range[int, STEPS_RANGE[0], STEPS_RANGE[1]]


@app_commands.command(name="draw", description="Render an image from a prompt (A1111 prompt syntax)")
@app_commands.describe(
    prompt="What to draw; (word:1.2) weights a word, [a:b:0.5] switches halfway",
    negative="What to keep out of the picture",
    seed="Same seed and settings give the same picture; empty for a random seed",
    steps=f"Sampling steps ({STEPS_RANGE[0]}-{STEPS_RANGE[1]}); more is slower",
)
async def draw(
    interaction: discord.Interaction[AtelierBot],
    prompt: Prompt,
    negative: Prompt | None = None,
    seed: Seed | None = None,
    steps: Steps | None = None,
) -> None:
    received = time.monotonic()  # the token's 15 minutes run from about now
    await interaction.response.defer(thinking=True)
    bot = interaction.client
    options = {"prompt": prompt, "negative_prompt": negative, "seed": seed, "steps": steps}
    data = {key: value for key, value in options.items() if value is not None}
    author = store.Author(interaction.user.id, interaction.user.name)
    channel_id = interaction.channel_id
    try:
        queued = await asyncio.to_thread(store.submit_draw, bot.settings, author, channel_id, data)
    except AtelierError as error:
        await answer_privately(interaction, messages.input_error(error))
        return
    await track(interaction, queued, received)
