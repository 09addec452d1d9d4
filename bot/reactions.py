"""❤️ reactions on result messages are gallery votes, one per member per image.

The message is mapped to its job through the stored `Job.discord_message_id`, and the heart counts
for the job's first visible image: a batch's message has one set of reactions, and per-image
number reactions would clutter every result for a rare case (members vote per image in the
gallery). Adding the reaction sets the vote, removing it takes the vote back
(`atelier.services.votes.set_vote`, idempotent, so a replayed gateway event changes nothing).
Reactions need the guild-reactions intent (`bot.client`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

from bot import store_mod

if TYPE_CHECKING:
    from bot.client import AtelierBot

log = logging.getLogger(__name__)

HEARTS = frozenset({"❤️", "❤"})  # Discord sends the red heart with or without the emoji variation selector


async def on_reaction(bot: AtelierBot, event: discord.RawReactionActionEvent) -> None:
    if event.emoji.id is not None or event.emoji.name not in HEARTS or event.guild_id is None:
        return
    if bot.user is not None and event.user_id == bot.user.id:
        return
    voted = event.event_type == "REACTION_ADD"
    name = event.member.name if event.member is not None else (None if not voted else str(event.user_id))
    try:
        counted = await asyncio.to_thread(store_mod.react, bot.settings, event.message_id, event.user_id, name, voted)
    except Exception:
        log.exception("reaction on message %s by %s could not be recorded", event.message_id, event.user_id)
        return
    if counted:
        log.info("vote %s by %s via message %s", "added" if voted else "removed", event.user_id, event.message_id)
