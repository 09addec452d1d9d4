"""Per-Discord-role quotas: members holding a role (supporters, trusted artists) get more GPU time
or a longer queue than the studio's defaults.

Why roles from Discord and not Atelier's own roles: a community already sorts its members into
Discord roles, and moderators should not have to mirror them. The member's role ids are recorded
whenever the bot sees them (every interaction) and at each gallery login, so the limits apply
whichever door a job comes by. Limits only ever widen: a member gets the most generous of the
studio's per-Atelier-role settings and every quota row among their roles, and 0 (unlimited) beats
any number. Every change is a moderator's, checked and written to the audit log.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.errors import InvalidInput, NotFound
from atelier.schema import RoleQuota, User
from atelier.services import audit
from atelier.settings import Settings

ROLE_NAME_LENGTH = 100
MAX_ROLE_IDS = 250
"""Discord's cap on roles in a guild: a longer list is not a member's roles."""


@dataclass(frozen=True)
class Limits:
    """What one member may use; 0 means unlimited."""

    daily_gpu_seconds: float
    max_queued: int


def list_quotas(session: Session) -> list[RoleQuota]:
    """Every role quota, by role name."""
    return list(session.scalars(select(RoleQuota).order_by(RoleQuota.role_name, RoleQuota.discord_role_id)))


def _non_negative(field: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(field, f"must be 0 (unlimited) or more, got {value:g}")


def set_quota(
    session: Session,
    actor: User | None,
    discord_role_id: int,
    role_name: str,
    daily_gpu_seconds: float,
    max_queued: int,
) -> RoleQuota:
    """Create or change the quota of a Discord role; returns it as stored."""
    audit.require_moderator(actor, "set role quotas")
    if discord_role_id <= 0:
        raise InvalidInput("role", f"{discord_role_id} is not a Discord role id")
    _non_negative("daily_gpu_seconds", daily_gpu_seconds)
    _non_negative("max_queued", max_queued)
    name = " ".join(role_name.split())[:ROLE_NAME_LENGTH] or str(discord_role_id)
    row = session.get(RoleQuota, discord_role_id)
    if row is None:
        row = RoleQuota(discord_role_id=discord_role_id)
        session.add(row)
    row.role_name = name
    row.daily_gpu_seconds = float(daily_gpu_seconds)
    row.max_queued = int(max_queued)
    row.updated_by_id = actor.id if actor is not None else None
    row.updated_at = datetime.now(UTC)
    audit.record(session, actor, "quota.set", f"role {name} ({discord_role_id})", describe(row))
    session.commit()
    return row


def remove_quota(session: Session, actor: User | None, discord_role_id: int) -> None:
    """Drop a role's quota: its members fall back to the studio's defaults (or their other roles)."""
    audit.require_moderator(actor, "remove role quotas")
    row = session.get(RoleQuota, discord_role_id)
    if row is None:
        raise NotFound(f"the role {discord_role_id} has no quota")
    audit.record(session, actor, "quota.remove", f"role {row.role_name} ({discord_role_id})")
    session.delete(row)
    session.commit()


def describe(quota: RoleQuota | Limits) -> str:
    """The limits in words, as moderators read them in /mod and the audit log."""
    gpu = (
        "unlimited GPU time" if quota.daily_gpu_seconds <= 0 else f"{quota.daily_gpu_seconds / 60:g} GPU minutes a day"
    )
    queued = "no queue cap" if quota.max_queued <= 0 else f"at most {quota.max_queued} waiting"
    return f"{gpu}, {queued}"


def _most_generous(values: Iterable[float]) -> float:
    found = list(values)
    return 0 if any(value <= 0 for value in found) else max(found)


def limits_for(session: Session, settings: Settings, user: User) -> Limits:
    """The member's limits: the studio's defaults for their Atelier role, widened by every quota row
    among their Discord roles."""
    rules = settings.scheduling
    daily: list[float] = [float(rules.daily_gpu_seconds.get(user.role.value, 0.0))]
    queued: list[float] = [float(rules.max_queued_per_member)]
    role_ids = [int(role) for role in user.discord_role_ids or []]
    if role_ids:
        for quota in session.scalars(select(RoleQuota).where(RoleQuota.discord_role_id.in_(role_ids))):
            daily.append(quota.daily_gpu_seconds)
            queued.append(quota.max_queued)
    return Limits(float(_most_generous(daily)), int(_most_generous(queued)))


def record_discord_roles(session: Session, user: User, role_ids: Iterable[int]) -> None:
    """Remember the member's Discord role ids as last seen (sorted, deduplicated); commits only
    when they changed, since the bot calls this on every interaction."""
    seen = sorted({int(role) for role in role_ids})[:MAX_ROLE_IDS]
    if list(user.discord_role_ids or []) == seen:
        return
    user.discord_role_ids = seen
    session.commit()
