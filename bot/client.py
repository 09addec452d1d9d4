"""The bot: a `discord.Client` with an app-command tree, command sync at start, and deliveries.

A plain Client rather than `commands.Bot`: the bot has no prefix commands, and app commands need
nothing more than a `CommandTree`. Of the gateway intents it asks only for guilds (the channel and
role cache discord.py's state expects) and guild reactions (❤️ votes, `bot.reactions`): slash
commands arrive regardless, and the bot reads no messages, members or presences.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from atelier.settings import Settings
from bot import reactions, remix
from bot.buttons import press
from bot.commands import COMMANDS
from bot.components import CancelButton, ImageButton
from bot.config import BotTuning
from bot.context_menus import MENUS
from bot.delivery import Deliveries
from bot.draw import draw
from bot.endpoint import use_gateway_from_api
from bot.mod import mod
from bot.mod_policies import SUBGROUPS
from bot.replies import report_error

log = logging.getLogger(__name__)


def snowflake_setting(name: str, value: str) -> int | None:
    """An id from the settings, or None when unset; a malformed one stops the start with its name."""
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"{name} must be a Discord id (digits only), got {value!r}")
    return int(value)


class AtelierTree(app_commands.CommandTree["AtelierBot"]):
    async def on_error(self, interaction: discord.Interaction[AtelierBot], error: app_commands.AppCommandError) -> None:
        """Whatever a command did not handle: the user gets a short apology, the log gets the traceback."""
        command = interaction.command.name if interaction.command else "?"
        await report_error(interaction, getattr(error, "original", error), f"/{command}")


class AtelierBot(discord.Client):
    def __init__(self, settings: Settings, tuning: BotTuning | None = None) -> None:
        # The bot never joins voice: no warnings about voice libraries it will not use.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        app_id = snowflake_setting("ATELIER_DISCORD_APP_ID", settings.discord.discord_app_id)
        super().__init__(
            intents=discord.Intents(guilds=True, guild_reactions=True),
            allowed_mentions=discord.AllowedMentions.none(),
            application_id=app_id,  # type: ignore[arg-type]  # None is accepted: learnt at login
        )
        self.settings = settings
        self.tuning = tuning or BotTuning()
        self.guild_id = snowflake_setting("ATELIER_DISCORD_GUILD_ID", settings.discord.discord_guild_id)
        self.tree = AtelierTree(self)
        commands: list[app_commands.Command[Any, Any, Any] | app_commands.ContextMenu | app_commands.Group] = [
            draw,
            *COMMANDS,
            *MENUS,
            mod,
        ]
        assert all(group.parent is mod for group in SUBGROUPS)  # /mod channel and /mod quota are attached
        for command in commands:
            self.tree.add_command(command)
        self.deliveries = Deliveries(self, settings, self.tuning)

    async def setup_hook(self) -> None:
        # Buttons are routed by their custom_id pattern, so those on messages posted by earlier runs
        # (or whose interaction token has long expired) work as well as new ones.
        self.add_dynamic_items(ImageButton, CancelButton)
        await self.sync_commands()
        await self.deliveries.start()

    async def sync_commands(self) -> None:
        """To one guild when configured (instant, for a community's own server), else globally."""
        if self.guild_id is not None:
            guild = discord.Object(self.guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d command(s) to guild %s", len(synced), self.guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global command(s)", len(synced))

    async def connect(self, *, reconnect: bool = True) -> None:
        if self.settings.discord.discord_api_base:
            await use_gateway_from_api(self.http)
        await super().connect(reconnect=reconnect)

    async def press(self, interaction: discord.Interaction[AtelierBot], action: str, target: int) -> None:
        """A button of `bot.components` was pressed."""
        await press(interaction, action, target)

    async def on_interaction(self, interaction: discord.Interaction[AtelierBot]) -> None:
        """Remix forms are routed by custom id, like the buttons, so one opened before a restart works."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        match = remix.SUBMIT.fullmatch(custom_id)
        if match is None:
            log.warning("modal submit with an unknown custom id %r", custom_id[:100])
            return
        try:
            await remix.on_submit(interaction, match["target"])
        except Exception as error:
            await report_error(interaction, error, f"remix form {custom_id}")

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        await reactions.on_reaction(self, event)

    async def on_raw_reaction_remove(self, event: discord.RawReactionActionEvent) -> None:
        await reactions.on_reaction(self, event)

    async def on_ready(self) -> None:
        log.info("bot ready as %s (%s)", self.user, self.user.id if self.user else "?")

    async def close(self) -> None:
        await self.deliveries.stop()
        await super().close()
