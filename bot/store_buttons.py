"""The blocking database work behind the result and cancel buttons; callers run it in a thread.

Like `bot.store`, each function is one short session, so the event loop stays free to answer
Discord within its deadlines. The rules (who may cancel or delete, what a reroll or an upscale
renders) are atelier's services; this module only turns a Discord member into an actor and an
image id into a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from atelier import events
from atelier.schema import JobSource, User
from atelier.services import derive, jobs, removal, votes
from atelier.settings import Settings
from bot.store import Author, Queued, Where, check_here, ensure_user, open_session

DERIVED_ACTIONS = ("reroll", "vary", "upscale")


def submit_derived(
    settings: Settings, author: Author, where: Where, action: str, image_id: int
) -> tuple[Queued, derive.Upscaled | None]:
    """Reroll, variations or upscale of a gallery image, as a Discord job whose parent is that image."""
    with open_session(settings) as session:
        owner_id = ensure_user(session, author)
        image = derive.source_image(session, image_id)
        recipe: Mapping[str, Any] = dict(image.job.recipe)
        upscaled = None
        if action == "reroll":
            data = derive.reroll(recipe)
        elif action == "vary":
            data = derive.variation(recipe, image)
        elif action == "upscale":
            data, upscaled = derive.upscale(recipe, image)
        else:
            raise ValueError(f"not a derived action: {action!r}")
        check_here(session, where, data)
        job = jobs.submit(
            session,
            settings,
            data,
            source=JobSource.DISCORD,
            owner_id=owner_id,
            parent_image_id=image_id,
            discord_channel_id=where.channel_id,
        )
        return Queued(job.id, job.queue_position or 1, job.eta_seconds), upscaled


def infotext(settings: Settings, image_id: int) -> str:
    """The image's A1111 parameters text, as embedded in its PNG."""
    with open_session(settings) as session:
        return derive.source_image(session, image_id).infotext


def _actor(session: Session, author: Author) -> jobs.Actor:
    return jobs.Actor.of(session.get(User, ensure_user(session, author)))


def hide(settings: Settings, author: Author, image_id: int) -> list[int]:
    """Hide the render in the gallery if this member may; raises `Forbidden` otherwise."""
    with open_session(settings) as session:
        return removal.hide_render(session, image_id, _actor(session, author))


def cancel(settings: Settings, author: Author, job_id: int) -> Mapping[str, Any]:
    """Cancel the job if this member may; returns its recipe. Raises `Forbidden`, `InvalidInput`."""
    with open_session(settings) as session:
        job = jobs.cancel(session, events.shared_client(settings.redis_url), job_id, _actor(session, author))
        return dict(job.recipe)


def vote(settings: Settings, author: Author, image_id: int) -> votes.VoteResult:
    """❤️ pressed: the member's vote on the image toggled, by the same rules and tally as reactions
    and the gallery's hearts (`Forbidden` for one's own image, `Refused` over the rate limit)."""
    with open_session(settings) as session:
        user_id = ensure_user(session, author)
        client = events.shared_client(settings.redis_url)
        return votes.toggle(session, user_id, image_id, client=client, per_minute=settings.web.votes_per_minute)
