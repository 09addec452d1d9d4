"""Who is logged in to the gallery: members by Discord account, the machine's owner locally, and
their sessions.

A session is a random token held by the browser (in a signed cookie, see `gallery.login`) and a
`web_sessions` row keyed by the token's SHA-256. Logging out deletes the row; `revoke_all` deletes
every row of a member, which logs them out on every device at once. The Discord side (OAuth, role
lookup) stays in the gallery: this module only writes the rows both the gallery and the bot read.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.schema import Role, User, WebSession
from atelier.services import quotas

# The local login's member: a name no Discord account gets (those have a discord_id).
LOCAL_OWNER_NAME = "owner (local)"
NAME_LENGTH = 100


@dataclass(frozen=True)
class LoggedIn:
    """The member a valid session belongs to."""

    user_id: int
    name: str
    role: Role

    @property
    def moderator(self) -> bool:
        return self.role in (Role.MODERATOR, Role.ADMIN)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def discord_member(
    session: Session,
    discord_id: int,
    name: str,
    moderator: bool | None,
    role_ids: Iterable[int | str] | None = None,
) -> User:
    """The users row of a Discord account, made on first login and renamed when the name changed.

    `moderator` is what the guild's roles say (None: no guild is configured, so the role stays as an
    operator set it). An admin stays admin: that role is given on this machine, not in Discord.
    `role_ids` are the member's guild roles, recorded for per-role quotas (None: not looked up)."""
    query = select(User).where(User.discord_id == discord_id)
    user = session.scalar(query)
    if user is None:
        session.add(User(discord_id=discord_id, name=name[:NAME_LENGTH], role=Role.MEMBER))
        try:
            session.commit()
        except IntegrityError:  # the bot or another login made the row first
            session.rollback()
        user = session.scalar(query)
        assert user is not None
    user.name = name[:NAME_LENGTH]
    if moderator is not None and user.role != Role.ADMIN:
        user.role = Role.MODERATOR if moderator else Role.MEMBER
    if role_ids is not None:
        quotas.record_discord_roles(session, user, [int(role) for role in role_ids if str(role).isdigit()])
    session.commit()
    return user


def local_owner(session: Session) -> User:
    """The admin row the local login (the machine's owner, on loopback) logs in as."""
    query = select(User).where(User.name == LOCAL_OWNER_NAME, User.discord_id.is_(None)).order_by(User.id)
    user = session.scalars(query).first()
    if user is None:
        user = User(name=LOCAL_OWNER_NAME, role=Role.ADMIN)
        session.add(user)
    user.role = Role.ADMIN
    session.commit()
    return user


def start_session(session: Session, user_id: int, lifetime: timedelta) -> str:
    """A new session for the member; returns the token for the cookie (the row stores its hash).

    Expired rows of the same member are dropped here, so the table does not grow with old logins."""
    now = _now()
    session.execute(delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(WebSession(id=token_id(token), user_id=user_id, created_at=now, expires_at=now + lifetime))
    session.commit()
    return token


def logged_in(session: Session, token: str) -> LoggedIn | None:
    """The member of a live session, or None (unknown, revoked or expired)."""
    row = session.execute(
        select(User.id, User.name, User.role, WebSession.expires_at)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.id == token_id(token))
    ).first()
    if row is None or _aware(row.expires_at) <= _now():
        return None
    return LoggedIn(row.id, row.name, row.role)


def end_session(session: Session, token: str) -> None:
    """Log one browser out."""
    session.execute(delete(WebSession).where(WebSession.id == token_id(token)))
    session.commit()


def revoke_all(session: Session, user_ids: Iterable[int]) -> int:
    """Log the members out everywhere (a stolen cookie, a ban); returns how many sessions ended."""
    ids = list(user_ids)
    if not ids:
        return 0
    result = session.execute(delete(WebSession).where(WebSession.user_id.in_(ids)))
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
