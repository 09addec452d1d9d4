"""The blocking work behind `/mod` and ❤️ reactions; callers run each function in a thread.

A member who passed the moderator check in Discord (`bot.moderators`) is recorded as a moderator
user here, so the services' own checks and the audit log see who acted. The rules themselves
(what may be disabled, how a term is matched, what a vote is) are atelier's services.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier import events
from atelier.errors import AtelierError
from atelier.schema import Role, User
from atelier.services import audit, listings, model_admin, moderation, policy, removal, votes
from atelier.settings import Settings
from bot.store import Author, ensure_user, open_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    term: str
    reason: str


def _moderator(session: Session, author: Author) -> User:
    """The member's user row, made a moderator if it was a member (an admin stays admin)."""
    user = session.get(User, ensure_user(session, author))
    assert user is not None
    if user.role == Role.MEMBER:
        user.role = Role.MODERATOR
        session.commit()
    return user


def ban(settings: Settings, author: Author, term: str, reason: str) -> Rule:
    with open_session(settings) as session:
        rule = moderation.ban(session, term, reason, _moderator(session, author))
        return Rule(rule.term, rule.reason)


def unban(settings: Settings, author: Author, term: str) -> str:
    with open_session(settings) as session:
        moderation.unban(session, term, _moderator(session, author))
        return moderation.normalise(term)


def bans(settings: Settings) -> list[Rule]:
    with open_session(settings) as session:
        return [Rule(rule.term, rule.reason) for rule in moderation.banned_terms(session)]


def models(settings: Settings) -> list[model_admin.ModelInfo]:
    with open_session(settings) as session:
        return model_admin.managed_models(session)


def model_info(settings: Settings, name: str) -> model_admin.ModelInfo:
    with open_session(settings) as session:
        return model_admin.info(session, name)


def set_model(settings: Settings, author: Author, name: str, action: str) -> model_admin.ModelInfo:
    """`enable`, `disable` or `default`."""
    with open_session(settings) as session:
        actor = _moderator(session, author)
        if action == "default":
            return model_admin.set_default(session, name, actor)
        return model_admin.set_enabled(session, name, action == "enable", actor)


def set_hidden(settings: Settings, author: Author, image_id: int, hidden: bool) -> int:
    with open_session(settings) as session:
        return removal.set_hidden(session, image_id, hidden, _moderator(session, author)).id


def set_negative(settings: Settings, author: Author, text: str) -> str:
    with open_session(settings) as session:
        return policy.set_forced_negative(session, text, _moderator(session, author))


def audit_log(settings: Settings) -> list[audit.Entry]:
    with open_session(settings) as session:
        return audit.recent(session)


def react(settings: Settings, message_id: int, discord_id: int, name: str | None, voted: bool) -> bool:
    """A ❤️ added (`voted`) or removed on a message: the member's vote on the first image of the job
    whose result that message is. False when the message is not a result of ours (or the vote was
    refused: one's own image, the vote rate limit); True when the vote is as the reaction says."""
    with open_session(settings) as session:
        image = listings.image_of_message(session, message_id)
        if image is None:
            return False
        if name is not None:
            user_id: int | None = ensure_user(session, Author(discord_id, name))
        else:  # a removal carries no member: only someone who already has a user row can hold a vote
            user_id = session.scalar(select(User.id).where(User.discord_id == discord_id))
        if user_id is None:
            return False
        try:
            if voted:
                votes.check_rate(events.shared_client(settings.redis_url), user_id, settings.web.votes_per_minute)
            votes.set_vote(session, user_id, image.id, voted)
        except AtelierError as refused:
            log.info("reaction by %s on message %s not counted: %s", discord_id, message_id, refused.message)
            return False
        return True
