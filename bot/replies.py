"""Answering a member privately, whatever the interaction already answered.

Commands and buttons defer first (Discord's 3-second deadline), and what an ephemeral answer must
do afterwards depends on how they deferred: after a public "thinking…" the placeholder is deleted so
only the member sees the answer; after a button's silent defer the "original response" is the
message the button sits on, which must of course stay.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import InteractionResponseType

from atelier.errors import AtelierError
from bot import messages

log = logging.getLogger(__name__)


async def answer_privately(interaction: discord.Interaction[Any], text: str) -> None:
    """An ephemeral answer, even after a public "thinking…" defer (whose followup would be public)."""
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True)
        return
    if interaction.response.type == InteractionResponseType.deferred_channel_message:
        try:
            await interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.info("could not delete the deferred reply (%s); answering below it", exc)
    await interaction.followup.send(text, ephemeral=True)


async def report_error(interaction: discord.Interaction[Any], error: BaseException, what: str) -> None:
    """An error a handler did not expect to finish normally: the member gets a sentence, never a
    traceback; an `AtelierError` says what was wrong, anything else is logged with its traceback."""
    if isinstance(error, AtelierError):
        text = messages.input_error(error)
    else:
        log.error("%s failed", what, exc_info=error)
        text = messages.UNEXPECTED
    try:
        await answer_privately(interaction, text)
    except discord.HTTPException:
        log.warning("could not tell the member about the error of %s", what, exc_info=True)
