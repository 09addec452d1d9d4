"""After a job is queued from an interaction: show its place, offer ✖️, and wait to deliver it.

Shared by `/draw` and the buttons that derive jobs, so every job a member starts in Discord looks
and behaves the same: a "queued — #3" reply with a cancel button that turns into progress, then the
result as its own message with the result buttons.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot import messages
from bot.components import cancel_view
from bot.delivery import Waiter
from bot.members import age_restricted
from bot.status import StatusMessage
from bot.store import Queued

if TYPE_CHECKING:
    from bot.client import AtelierBot

log = logging.getLogger(__name__)


async def track(interaction: discord.Interaction[AtelierBot], queued: Queued, received: float, note: str = "") -> None:
    """Edit the deferred reply into the queue position, then hand the job to the deliveries.

    The reply is edited before the job is watched, so the deliveries know the queued message from the
    start (a job that finishes meanwhile is still delivered: `watch` remembers recent events)."""
    bot = interaction.client
    token_until = received + bot.tuning.followup_seconds
    waiter = Waiter(
        job_id=queued.job_id,
        channel_id=interaction.channel_id,
        user_id=interaction.user.id,
        followup=interaction.followup,
        followup_until=token_until,
        filesize_limit=interaction.filesize_limit,
        age_restricted=age_restricted(interaction.channel),
    )
    late = queued.eta_seconds is not None and queued.eta_seconds > bot.tuning.followup_seconds
    content = messages.queued(queued.position, queued.eta_seconds, via_channel=late)
    if note:
        content = f"{content}\n{note}"
    try:
        message = await interaction.edit_original_response(content=content, view=cancel_view(queued.job_id))
    except discord.HTTPException as exc:  # the job is queued and will be delivered all the same
        log.warning("job %s: could not show the queue position (%s)", queued.job_id, exc)
    else:
        waiter.status = StatusMessage(
            bot,
            queued.job_id,
            message.id,
            interaction.channel_id,
            interaction,
            token_until,
            bot.tuning.progress_edit_seconds,
        )
    bot.deliveries.watch(waiter)
    log.info("job %s queued for %s (#%s)", queued.job_id, interaction.user.id, queued.position)
