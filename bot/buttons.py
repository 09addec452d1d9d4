"""What the result and cancel buttons do when pressed.

Every press defers first, before any database work, because a component interaction also has 3
seconds to be answered. Derived jobs (reroll, variations, upscale) defer with a public "thinking…"
that becomes their own queued message, exactly like `/draw`; parameters answer privately; delete and
cancel defer silently and act on the message the button sits on; remix answers with its form, which
must be the first answer (`bot.remix`); a vote answers privately with the new tally. Whatever goes wrong, the member
gets a sentence (ephemeral) and the log gets the traceback: never a failed interaction.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from typing import TYPE_CHECKING

import discord

from bot import commands, messages, remix, store_buttons
from bot.members import author_of, where_of
from bot.replies import answer_privately, report_error
from bot.status import StatusMessage
from bot.store import Author
from bot.tracking import track

if TYPE_CHECKING:
    from bot.client import AtelierBot

log = logging.getLogger(__name__)


async def press(interaction: discord.Interaction[AtelierBot], action: str, target: int) -> None:
    try:
        if action in store_buttons.DERIVED_ACTIONS:
            await derive(interaction, action, target)
        elif action == "remix":
            await remix.open_for_image(interaction, target)
        elif action == "vote":
            await vote(interaction, target)
        elif action == "info":
            await parameters(interaction, target)
        elif action == "delete":
            await delete(interaction, target)
        elif action == "cancel":
            await cancel(interaction, target)
        else:
            raise ValueError(f"unknown button action {action!r}")
    except Exception as error:
        await report_error(interaction, error, f"button {action}:{target}")


def _author(interaction: discord.Interaction[AtelierBot]) -> Author:
    return author_of(interaction)


async def derive(interaction: discord.Interaction[AtelierBot], action: str, image_id: int) -> None:
    """Reroll, variations or upscale: a new job whose parent is the image, delivered like /draw."""
    received = time.monotonic()
    await interaction.response.defer(thinking=True)
    bot = interaction.client
    queued, upscaled = await asyncio.to_thread(
        store_buttons.submit_derived, bot.settings, _author(interaction), where_of(interaction), action, image_id
    )
    note = ""
    if upscaled is not None:
        note = messages.upscale_note(upscaled.width, upscaled.height, upscaled.factor, upscaled.capped)
    await track(interaction, queued, received, note)


async def vote(interaction: discord.Interaction[AtelierBot], image_id: int) -> None:
    """❤️: vote for the image or take the vote back, and say privately where it stands."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    result = await asyncio.to_thread(store_buttons.vote, interaction.client.settings, _author(interaction), image_id)
    log.info("vote on image %s %s by %s", image_id, "added" if result.voted else "removed", interaction.user.id)
    await interaction.followup.send(messages.voted(result.image_id, result.voted, result.score), ephemeral=True)


async def parameters(interaction: discord.Interaction[AtelierBot], image_id: int) -> None:
    """The image's infotext, privately, in a code block (a file when it is too long for one)."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    text = await asyncio.to_thread(store_buttons.infotext, interaction.client.settings, image_id)
    block = messages.parameters(text)
    if block is not None:
        await interaction.followup.send(block, ephemeral=True)
        return
    attached = discord.File(io.BytesIO(text.encode()), filename=f"parameters_{image_id}.txt")
    await interaction.followup.send("The parameters are too long for a message:", file=attached, ephemeral=True)


async def delete(interaction: discord.Interaction[AtelierBot], image_id: int) -> None:
    """Hide the render in the gallery and delete its message: requester or moderator only."""
    await interaction.response.defer()
    await asyncio.to_thread(store_buttons.hide, interaction.client.settings, _author(interaction), image_id)
    try:
        await interaction.delete_original_response()  # the message the button is on
    except discord.HTTPException as exc:
        if interaction.message is None:
            raise
        log.info("image %s: deleting through the interaction failed (%s); deleting in the channel", image_id, exc)
        await interaction.message.delete()
    log.info("image %s hidden and its message deleted by %s", image_id, interaction.user.id)


async def cancel(interaction: discord.Interaction[AtelierBot], job_id: int) -> None:
    """Stop a waiting or running job: requester or moderator only; its queued message says cancelled."""
    received = time.monotonic()
    await interaction.response.defer()
    bot = interaction.client
    if interaction.message is not None and interaction.message.flags.ephemeral:
        await cancel_listed(interaction, job_id)  # a ✖️ of /queue
        return
    status: StatusMessage | None = None
    if interaction.message is not None:
        status = StatusMessage(
            bot,
            job_id,
            interaction.message.id,
            interaction.channel_id,
            interaction,
            received + bot.tuning.followup_seconds,
            bot.tuning.progress_edit_seconds,
        )
    # Before cancelling: the cancelled event may reach the deliveries before this handler resumes.
    adopted = status is not None and bot.deliveries.adopt_status(status)
    recipe = await asyncio.to_thread(store_buttons.cancel, bot.settings, _author(interaction), job_id)
    log.info("job %s cancelled by %s", job_id, interaction.user.id)
    if status is not None and not adopted:
        await status.finish(messages.cancelled(recipe))
    elif status is None:
        await answer_privately(interaction, messages.cancelled(recipe))


async def cancel_listed(interaction: discord.Interaction[AtelierBot], job_id: int) -> None:
    """✖️ on the /queue listing: cancel, then show the listing again without that job. The job's own
    queued message is settled by the deliveries when the cancelled event arrives."""
    bot = interaction.client
    await asyncio.to_thread(store_buttons.cancel, bot.settings, _author(interaction), job_id)
    log.info("job %s cancelled by %s from /queue", job_id, interaction.user.id)
    content, view = await commands.queue_listing(bot.settings, _author(interaction))
    await interaction.edit_original_response(content=content, view=view)
