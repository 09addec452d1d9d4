"""Pointing discord.py at another Discord API: a proxy, or the project's fake Discord in tests.

discord.py builds every REST URL from the class attribute `Route.BASE` when a route is made
(followups and interaction callbacks included), so setting it once at start-up, before any
request, moves all REST traffic. A plain `discord.Client` does not ask the API for the gateway
address (it connects to a built-in one), so with a custom API we ask `GET /gateway/bot`, as a
sharded client does, and connect where that answer says.
"""

from __future__ import annotations

import logging

import discord
import yarl
from discord.gateway import DiscordWebSocket

log = logging.getLogger(__name__)


def use_api_base(base: str) -> str:
    """Send all REST calls to `base` (e.g. `http://127.0.0.1:8123/api/v10`); returns it normalised."""
    base = base.strip().rstrip("/")
    url = yarl.URL(base)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"ATELIER_DISCORD_API_BASE must be an http(s) URL, got {base!r}")
    discord.http.Route.BASE = base
    log.info("Discord REST API: %s", base)
    return base


async def use_gateway_from_api(http: discord.http.HTTPClient) -> yarl.URL:
    """Connect the gateway where the configured API says it is."""
    _shards, url, _limits = await http.get_bot_gateway()
    gateway = yarl.URL(url)
    DiscordWebSocket.DEFAULT_GATEWAY = gateway
    log.info("Discord gateway: %s", gateway)
    return gateway
