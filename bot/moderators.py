"""Who may use `/mod`: checked in code on every command, not only hinted to Discord's client.

Discord's `default_permissions` only hides a command from members in the client, and a server's
admins can change that per role; the bot itself decides. A member may moderate when they hold one
of the roles in `ATELIER_MODERATOR_ROLE_IDS` (the same setting that makes gallery moderators) or
have Manage Guild (or Administrator) in the interaction's resolved permissions.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import discord

REFUSAL = "❌ Only moderators can use /mod (a moderator role, or the Manage Server permission)."
NOT_IN_GUILD = "❌ /mod works in a server, not in direct messages."


def may_moderate(interaction: discord.Interaction[Any], role_ids: Collection[str]) -> bool:
    if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
        return False
    permissions = interaction.permissions
    if permissions.manage_guild or permissions.administrator:
        return True
    return any(str(role.id) in role_ids for role in interaction.user.roles)


async def refuse_unless_moderator(interaction: discord.Interaction[Any], role_ids: Collection[str]) -> bool:
    """True when the member may go on; otherwise they got a private refusal (at once: no I/O first)."""
    if may_moderate(interaction, role_ids):
        return True
    text = NOT_IN_GUILD if interaction.guild_id is None else REFUSAL
    await interaction.response.send_message(text, ephemeral=True)
    return False
