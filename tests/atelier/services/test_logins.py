"""Gallery logins on real databases: members by Discord id, the local owner, sessions and revocation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.schema import Role, User, WebSession
from atelier.services import logins

DAY = timedelta(days=1)


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with session_factory(database_url)() as opened:
        yield opened


def test_discord_member_is_made_once_and_renamed(session: Session) -> None:
    """The same Discord id logs in as the same row, whose name follows the account's."""
    first = logins.discord_member(session, 42, "ada", None)
    again = logins.discord_member(session, 42, "Ada L.", None)
    assert first.id == again.id and again.name == "Ada L." and again.role == Role.MEMBER


def test_guild_roles_set_and_clear_moderator(session: Session) -> None:
    """A moderator role makes a moderator; losing it makes a member again; an admin stays admin."""
    assert logins.discord_member(session, 42, "ada", True).role == Role.MODERATOR
    assert logins.discord_member(session, 42, "ada", False).role == Role.MEMBER
    admin = logins.discord_member(session, 43, "bo", None)
    admin.role = Role.ADMIN
    session.commit()
    assert logins.discord_member(session, 43, "bo", False).role == Role.ADMIN


def test_local_owner_is_one_admin(session: Session) -> None:
    """The local login always lands on the same admin row."""
    owner = logins.local_owner(session)
    assert owner.role == Role.ADMIN and owner.discord_id is None
    assert logins.local_owner(session).id == owner.id


def test_session_token_is_stored_hashed(session: Session) -> None:
    """The database keeps the token's SHA-256, never the token the cookie carries."""
    user = logins.local_owner(session)
    token = logins.start_session(session, user.id, DAY)
    stored = session.scalars(select(WebSession.id)).all()
    assert stored == [logins.token_id(token)] and token not in stored
    member = logins.logged_in(session, token)
    assert member is not None and member.user_id == user.id and member.moderator


def test_ended_session_no_longer_logs_in(session: Session) -> None:
    """Logging out deletes the session: its token is refused afterwards."""
    token = logins.start_session(session, logins.local_owner(session).id, DAY)
    logins.end_session(session, token)
    assert logins.logged_in(session, token) is None


def test_revoke_all_ends_every_session_of_the_member(session: Session) -> None:
    """Revoking a member ends all their sessions and no one else's."""
    ada = logins.discord_member(session, 42, "ada", None).id
    bo = logins.discord_member(session, 43, "bo", None).id
    tokens = [logins.start_session(session, ada, DAY) for _ in range(2)]
    other = logins.start_session(session, bo, DAY)
    assert logins.revoke_all(session, [ada]) == 2
    assert all(logins.logged_in(session, token) is None for token in tokens)
    assert logins.logged_in(session, other) is not None


def test_expired_session_is_refused_and_cleaned_up(session: Session) -> None:
    """A session past its lifetime logs nobody in, and the member's next login removes its row."""
    user_id = session.scalars(select(User.id)).first() or logins.local_owner(session).id
    old = logins.start_session(session, user_id, timedelta(seconds=-1))
    assert logins.logged_in(session, old) is None
    logins.start_session(session, user_id, DAY)
    assert logins.token_id(old) not in session.scalars(select(WebSession.id)).all()
