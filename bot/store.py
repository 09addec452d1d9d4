"""The bot's blocking database work, each function one short session; callers run them in a thread.

Why a separate module: everything here blocks (SQL, file reads), and the event loop must keep
answering Discord within its 3-second deadline, so the async side calls these through
`asyncio.to_thread` and never touches a session itself.

A job's `discord_message_id` records the message that carries its result. It is written after a
delivery, so a restarted bot knows which Discord jobs still owe their author a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.recipe import checkpoint_name
from atelier.schema import Image, Job, JobSource, JobState, User
from atelier.services import channels, jobs, quotas
from atelier.services.models import resolve_checkpoint
from atelier.settings import Settings
from bot.choices import parse_size

FINISHED = (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Author:
    discord_id: int
    name: str
    role_ids: tuple[int, ...] | None = None
    """The member's Discord roles when the interaction carried them (recorded for per-role quotas)."""


@dataclass(frozen=True)
class Where:
    """The channel a job is asked for in, and whether Discord says it is age-restricted."""

    channel_id: int | None
    age_restricted: bool = False


@dataclass(frozen=True)
class Queued:
    job_id: int
    position: int
    eta_seconds: float | None


@dataclass(frozen=True)
class Picture:
    image_id: int
    index: int
    seed: int
    data: bytes
    nsfw: bool


@dataclass(frozen=True)
class Outcome:
    job_id: int
    state: JobState
    error: str | None
    recipe: Mapping[str, Any]
    pictures: list[Picture] = field(default_factory=list)
    missing: int = 0
    exact_of_image_id: int | None = None
    """A /reroll-exact job: the gallery image it rendered again, and whether the pixels came out equal."""
    exact_match: bool | None = None
    spoiler_all: bool = False
    """Moderators asked for every result in the job's channel behind a spoiler."""


@dataclass(frozen=True)
class Owed:
    """A Discord job whose result has not been posted yet."""

    job_id: int
    channel_id: int
    user_discord_id: int | None


def open_session(settings: Settings) -> Session:
    return session_factory(settings.database_url)()


def ensure_user(session: Session, author: Author) -> int:
    """The users row of a Discord account, made on its first command; its Discord roles recorded
    whenever the interaction carried them."""
    query = select(User).where(User.discord_id == author.discord_id)
    user = session.scalar(query)
    if user is None:
        session.add(User(discord_id=author.discord_id, name=author.name[:100]))
        try:
            session.commit()
        except IntegrityError:  # the same account's other command made it first
            session.rollback()
        user = session.scalar(query)
        assert user is not None
    elif user.name != author.name[:100]:
        user.name = author.name[:100]
        session.commit()
    if author.role_ids is not None:
        quotas.record_discord_roles(session, user, author.role_ids)
    return user.id


def check_here(session: Session, where: Where, data: Mapping[str, Any]) -> None:
    """Refuse the job's checkpoint where the channel's policy does not allow it (`Refused`)."""
    checkpoint = resolve_checkpoint(session, checkpoint_name(data))
    channels.check_channel(session, where.channel_id, where.age_restricted, checkpoint)


def submit_draw(settings: Settings, author: Author, where: Where, data: Mapping[str, Any]) -> Queued:
    """Create the job through the one submit service; raises `AtelierError` on bad input."""
    data = dict(data)
    size = data.pop("size", None)
    with open_session(settings) as session:
        owner_id = ensure_user(session, author)
        check_here(session, where, data)
        if size:  # an aspect preset is sized for the chosen model's native area
            native = resolve_checkpoint(session, checkpoint_name(data)).native_size
            data["width"], data["height"] = parse_size(str(size), native)
        job = jobs.submit(
            session, settings, data, source=JobSource.DISCORD, owner_id=owner_id, discord_channel_id=where.channel_id
        )
        return Queued(job.id, job.queue_position or 1, job.eta_seconds)


def finished_among(settings: Settings, job_ids: Iterable[int]) -> list[int]:
    ids = list(job_ids)
    if not ids:
        return []
    with open_session(settings) as session:
        query = select(Job.id).where(Job.id.in_(ids), Job.state.in_(FINISHED))
        return list(session.scalars(query))


def load_outcome(settings: Settings, job_id: int) -> Outcome | None:
    """The job's state and, when done, its image files read from the images dir."""
    images_dir = settings.paths.images_dir.resolve()
    with open_session(settings) as session:
        job = session.get(Job, job_id)
        if job is None:
            return None
        pictures: list[Picture] = []
        missing = 0
        if job.state == JobState.DONE:
            query = select(Image).where(Image.job_id == job_id, Image.hidden.is_(False)).order_by(Image.index)
            for image in session.scalars(query):
                path = (images_dir / image.file_path).resolve()
                if not path.is_relative_to(images_dir) or not path.is_file():
                    missing += 1
                    continue
                pictures.append(Picture(image.id, image.index, image.seed, path.read_bytes(), image.nsfw))
        spoilers = channels.spoiler_all(session, job.discord_channel_id)
        return Outcome(
            job.id,
            job.state,
            job.error,
            dict(job.recipe),
            pictures,
            missing,
            job.exact_of_image_id,
            job.exact_match,
            spoilers,
        )


def mark_delivered(settings: Settings, job_id: int, message_id: int) -> None:
    with open_session(settings) as session:
        jobs.record_delivery(session, job_id, message_id)


def owed(settings: Settings, since: timedelta) -> list[Owed]:
    """Discord jobs created within `since` whose result message was never posted."""
    cutoff = datetime.now(UTC) - since
    with open_session(settings) as session:
        query = (
            select(Job.id, Job.discord_channel_id, User.discord_id)
            .outerjoin(User, User.id == Job.owner_id)
            .where(
                Job.source == JobSource.DISCORD,
                Job.discord_message_id.is_(None),
                Job.discord_channel_id.is_not(None),
                Job.created_at >= cutoff,
            )
            .order_by(Job.id)
        )
        rows = session.execute(query).tuples()
        return [Owed(job_id, channel_id, user_id) for job_id, channel_id, user_id in rows if channel_id is not None]
