"""The moderators' audit log: every moderator action, whoever took it and through whichever door.

Services that change what members may do (banned terms, models, hidden images, policies) call
`record` in the same transaction as the change, so a change and its entry are committed together
or not at all. The log is only appended to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.errors import Forbidden
from atelier.schema import AuditEntry, Role, User

RECENT = 20
OPERATOR_NAME = "operator"


@dataclass(frozen=True)
class Entry:
    """An audit line as the bot and the gallery show it."""

    at: datetime
    actor: str
    action: str
    target: str
    details: str


def require_moderator(actor: User | None, what: str) -> None:
    """`actor` None is the machine's operator (the CLI), who may do anything."""
    if actor is not None and actor.role not in (Role.MODERATOR, Role.ADMIN):
        raise Forbidden(f"only moderators {what}")


def record(session: Session, actor: User | None, action: str, target: str, details: str = "") -> None:
    """Add an entry; the caller commits it with the change it describes."""
    session.add(
        AuditEntry(
            actor_id=actor.id if actor is not None else None,
            action=action[:40],
            target=target[:200],
            details=details[:2000],
        )
    )


def recent(session: Session, limit: int = RECENT) -> list[Entry]:
    """The latest entries, newest first."""
    query = (
        select(AuditEntry, User.name)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return [
        Entry(entry.created_at, name or OPERATOR_NAME, entry.action, entry.target, entry.details)
        for entry, name in session.execute(query).all()
    ]
