"""Who pressed or typed, and where: what every door hands to the blocking store functions.

Why one place: each job-making door must check the same channel policy (`atelier.services.channels`)
and record the member's Discord roles for per-role quotas (`atelier.services.quotas`), so the
facts are read from the interaction in one way only. Discord says whether a channel is
age-restricted (`is_nsfw`, which a thread inherits from its parent); a direct message never is.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.store import Author, Where


def role_ids(user: discord.abc.User) -> tuple[int, ...] | None:
    """The member's roles in the guild (not @everyone); None outside a guild, where roles are unknown."""
    if not isinstance(user, discord.Member):
        return None
    return tuple(sorted(role.id for role in user.roles if not role.is_default()))


def author_of(interaction: discord.Interaction[Any]) -> Author:
    return Author(interaction.user.id, interaction.user.name, role_ids(interaction.user))


def age_restricted(channel: object) -> bool:
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


def where_of(interaction: discord.Interaction[Any]) -> Where:
    return Where(interaction.channel_id, age_restricted(interaction.channel))
