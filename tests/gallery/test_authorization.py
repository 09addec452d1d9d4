"""Who may change what: every state-changing route of the gallery, for each kind of visitor."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import Role, User
from atelier.services import logins
from atelier.settings import Settings
from gallery import login


def log_in_as(client: TestClient, settings: Settings, name: str, role: Role = Role.MEMBER) -> int:
    """Give `client` a live session of the member called `name` (made with `role` on first use), as
    the login routes would; returns the member's id."""
    with session_scope(settings.database_url) as session:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            user = User(name=name, role=role)
            session.add(user)
            session.flush()
        user_id = user.id
        token = logins.start_session(session, user_id, timedelta(days=1))
    client.cookies.set(login.SESSION_COOKIE, login.sign(settings.web.secret_key, "session", token))
    return user_id
