"""The blocking work behind `/mod channel` and `/mod quota`; callers run each function in a thread.

Like `bot.store_mod`, the member who passed the moderator check in Discord acts as a moderator user,
and the rules (what a channel allows, how quotas combine, the audit entries) are atelier's services.
Quota rows are copied into plain values before the session closes, so nothing lazy escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from atelier.services import channels, quotas
from atelier.settings import Settings
from bot.store import Author, open_session
from bot.store_mod import _moderator

CHANNEL_ACTIONS = ("allow", "disallow", "clear", "spoilers on", "spoilers off")


@dataclass(frozen=True)
class Quota:
    role_id: int
    role_name: str
    described: str


def channel_rules(settings: Settings, channel_id: int) -> channels.ChannelRules:
    with open_session(settings) as session:
        return channels.rules(session, channel_id)


def change_channel(
    settings: Settings, author: Author, channel_id: int, action: str, model: str = ""
) -> channels.ChannelRules:
    """One of `CHANNEL_ACTIONS` on the channel; returns its rules as they are now."""
    with open_session(settings) as session:
        actor = _moderator(session, author)
        if action == "allow":
            return channels.allow(session, actor, channel_id, model)
        if action == "disallow":
            return channels.disallow(session, actor, channel_id, model)
        if action == "clear":
            return channels.clear(session, actor, channel_id)
        if action in ("spoilers on", "spoilers off"):
            return channels.set_spoilers(session, actor, channel_id, action == "spoilers on")
        raise ValueError(f"not a channel action: {action!r}")


def quota_list(settings: Settings) -> list[Quota]:
    with open_session(settings) as session:
        return [Quota(q.discord_role_id, q.role_name, quotas.describe(q)) for q in quotas.list_quotas(session)]


def set_quota(
    settings: Settings, author: Author, role_id: int, role_name: str, gpu_minutes: float, max_queued: int
) -> Quota:
    with open_session(settings) as session:
        row = quotas.set_quota(session, _moderator(session, author), role_id, role_name, gpu_minutes * 60, max_queued)
        return Quota(row.discord_role_id, row.role_name, quotas.describe(row))


def remove_quota(settings: Settings, author: Author, role_id: int) -> int:
    with open_session(settings) as session:
        quotas.remove_quota(session, _moderator(session, author), role_id)
        return role_id
