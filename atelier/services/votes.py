"""Votes: one per member per image, and one tally for the gallery's hearts and the bot's reactions.

The unique (user_id, image_id) constraint is the guard against double votes, not a read before the
write: two concurrent votes by one member both try to insert, one wins, and the other's
IntegrityError means "already voted". A member may not vote for their own image, and a Redis counter
per member and minute limits how fast anyone can vote (web and Discord share it).

Each image stores its tally (`Image.score`, the sum of its votes' values) so the gallery's "top" sorts
read one indexed column instead of summing votes per request. Every door (gallery hearts, Discord
reactions, the bot's vote button) records and removes votes through `record_vote` and `remove_vote`,
which change the row and the tally in one transaction with an atomic `score = score + n` UPDATE (no
read-modify-write), so concurrent votes on one image cannot lose a count. A duplicate insert fails
before its UPDATE commits, and a delete only subtracts the rows it actually removed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.errors import Forbidden, NotFound, Refused
from atelier.schema import Image, Job, Vote

log = logging.getLogger(__name__)

RATE_KEY_PREFIX = "atelier:votes:rate:"
RATE_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class VoteResult:
    """The member's vote on the image after the change, and the image's tally."""

    image_id: int
    voted: bool
    score: int


def _votable(session: Session, user_id: int, image_id: int, *, moderator: bool, own_ok: bool = False) -> None:
    """NotFound for an image the member cannot see, Forbidden for their own (unless `own_ok`)."""
    row = session.execute(
        select(Image.hidden, Job.owner_id).join(Job, Job.id == Image.job_id).where(Image.id == image_id)
    ).first()
    if row is None or (row.hidden and not moderator):
        raise NotFound(f"image {image_id} does not exist")
    if row.owner_id == user_id and not own_ok:
        raise Forbidden("that image is yours; votes are for other members' images")


def check_rate(client: redis.Redis, user_id: int, per_minute: int, now: float | None = None) -> None:
    """Count one vote for the member in this minute; Refused past `per_minute`.

    A fixed one-minute window (INCR + EXPIRE): cheap, shared by every gallery and bot process, and
    generous enough that a person never meets it. Redis being down lets the vote through: the
    database constraint still allows one vote per member and image."""
    if per_minute <= 0:
        return
    moment = time.time() if now is None else now
    window = int(moment // RATE_WINDOW_SECONDS)
    key = f"{RATE_KEY_PREFIX}{user_id}:{window}"
    try:
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, RATE_WINDOW_SECONDS * 2)
        count = int(pipe.execute()[0])
    except redis.RedisError:
        log.warning("vote rate counter unavailable; letting member %s vote", user_id, exc_info=True)
        return
    if count > per_minute:
        wait = max(1, int((window + 1) * RATE_WINDOW_SECONDS - moment))
        raise Refused(f"that is more than {per_minute} votes in a minute; try again in {wait} s")


def _add_to_score(session: Session, image_id: int, delta: int) -> None:
    """One atomic UPDATE: the database adds to the current value under the row's lock."""
    if delta:
        change = update(Image).where(Image.id == image_id).values(score=Image.score + delta)
        session.execute(change.execution_options(synchronize_session="fetch"))


def record_vote(session: Session, user_id: int, image_id: int, value: int = 1) -> Vote:
    """Insert the vote and add its value to the image's score, in the session's transaction (the
    caller commits). A second vote by the member raises IntegrityError here, before the score moves."""
    vote = Vote(user_id=user_id, image_id=image_id, value=value)
    session.add(vote)
    session.flush()
    _add_to_score(session, image_id, value)
    return vote


def remove_vote(session: Session, user_id: int, image_id: int) -> bool:
    """Delete the member's vote on the image and subtract what it counted, in the session's
    transaction (the caller commits); False when there was none (perhaps removed a moment ago)."""
    query = delete(Vote).where(Vote.user_id == user_id, Vote.image_id == image_id).returning(Vote.value)
    values = list(session.scalars(query.execution_options(synchronize_session=False)))
    _add_to_score(session, image_id, -sum(values))
    return bool(values)


def set_vote(session: Session, user_id: int, image_id: int, voted: bool, *, moderator: bool = False) -> VoteResult:
    """Make the member's vote on the image present or absent (idempotent: a Discord reaction added
    or removed maps to this directly)."""
    if voted:
        _votable(session, user_id, image_id, moderator=moderator)
        try:
            record_vote(session, user_id, image_id)
            session.commit()
        except IntegrityError:  # already voted (perhaps a moment ago, in another request)
            session.rollback()
    else:
        remove_vote(session, user_id, image_id)
        session.commit()
    return VoteResult(image_id, voted, tally(session, image_id))


def toggle(
    session: Session,
    user_id: int,
    image_id: int,
    *,
    moderator: bool = False,
    client: redis.Redis | None = None,
    per_minute: int = 0,
) -> VoteResult:
    """Vote for the image, or take the vote back if the member had voted; rate limited when a Redis
    client is given."""
    if client is not None:
        check_rate(client, user_id, per_minute)
    had = session.scalar(select(Vote.id).where(Vote.user_id == user_id, Vote.image_id == image_id))
    if had is None:
        return set_vote(session, user_id, image_id, True, moderator=moderator)
    _votable(session, user_id, image_id, moderator=moderator, own_ok=True)  # none on an image one cannot see
    return set_vote(session, user_id, image_id, False, moderator=moderator)


def tally(session: Session, image_id: int) -> int:
    """The image's score: the sum of its votes, as stored with it (0 for an image that does not exist)."""
    return int(session.scalar(select(Image.score).where(Image.id == image_id)) or 0)


def voted_images(session: Session, user_id: int | None, image_ids: Iterable[int]) -> set[int]:
    """Which of the images the member has voted for (to show their hearts filled in)."""
    ids = list(image_ids)
    if user_id is None or not ids:
        return set()
    query = select(Vote.image_id).where(Vote.user_id == user_id, Vote.image_id.in_(ids))
    return set(session.scalars(query))
