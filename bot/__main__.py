"""`python -m bot`: run the Discord bot with `ATELIER_DISCORD_TOKEN`.

Without a token it refuses to start and says how to get one: the embedded default starts the bot
only when a token is configured, and a bot that cannot log in should say so, not crash in a loop.
With `ATELIER_DISCORD_API_BASE` the same process talks to another Discord API (the tests' fake).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import discord
from pydantic import ValidationError

from atelier.db import migrate
from atelier.logging_setup import setup_logging
from atelier.settings import Settings, load_settings
from bot.client import AtelierBot, snowflake_setting
from bot.endpoint import use_api_base

log = logging.getLogger("bot")

NO_TOKEN = """\
The Discord bot needs a bot token and none is set.
Create an application at https://discord.com/developers/applications, add a bot to it, copy its
token into ATELIER_DISCORD_TOKEN (environment or .env), set ATELIER_DISCORD_APP_ID to the
application id, and start the bot again."""


def _refuse(message: str, code: int = 2) -> int:
    print(f"atelier bot: {message}", file=sys.stderr)
    return code


async def _serve(settings: Settings, token: str) -> None:
    client = AtelierBot(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    async with client:
        running = asyncio.create_task(client.start(token))
        stop = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({running, stop}, return_when=asyncio.FIRST_COMPLETED)
        if running in done:
            stop.cancel()
            running.result()
            return
        log.info("stopping")
        await client.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await running


def main() -> int:
    try:
        settings = load_settings()
    except ValidationError as exc:
        return _refuse(f"invalid settings:\n{exc}")
    token = settings.discord.discord_token.strip()
    if not token:
        return _refuse(NO_TOKEN)
    try:
        snowflake_setting("ATELIER_DISCORD_APP_ID", settings.discord.discord_app_id)
        snowflake_setting("ATELIER_DISCORD_GUILD_ID", settings.discord.discord_guild_id)
    except ValueError as exc:
        return _refuse(str(exc))
    setup_logging(settings)  # the same key=value/JSON lines as every process, the token blanked
    if settings.discord.discord_api_base:
        try:
            use_api_base(settings.discord.discord_api_base)  # before anything builds a Route
        except ValueError as exc:
            return _refuse(str(exc))
    migrate(settings.database_url)
    try:
        asyncio.run(_serve(settings, token))
    except discord.LoginFailure:
        return _refuse("Discord refused ATELIER_DISCORD_TOKEN; copy the bot token again from the developer portal", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
