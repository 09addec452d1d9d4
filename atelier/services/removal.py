"""Taking a render out of the gallery: its requester or a moderator hides it.

Hiding (not deleting rows or files) keeps lineage intact: jobs derived from a hidden image still
name their parent, and a moderator can bring it back. The moderators' list of hidden images is read
here too, so "hidden" has one meaning for the bot, the gallery and the CLI.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from atelier.errors import Forbidden, NotFound
from atelier.schema import Image, Job, User
from atelier.services import audit
from atelier.services.jobs import Actor


def hide_render(session: Session, image_id: int, actor: Actor) -> list[int]:
    """Hide every image of the job that made `image_id` (one Discord message shows them all); returns
    their ids. Only the job's owner or a moderator may."""
    image = session.get(Image, image_id)
    if image is None:
        raise NotFound(f"image {image_id} does not exist")
    job = session.get(Job, image.job_id)
    owner_id = job.owner_id if job is not None else None
    if not actor.moderator and (actor.user_id is None or actor.user_id != owner_id):
        raise Forbidden("only the member who asked for this picture or a moderator can delete it")
    ids = list(session.scalars(select(Image.id).where(Image.job_id == image.job_id).order_by(Image.index)))
    session.execute(
        update(Image)
        .where(Image.job_id == image.job_id)
        .values(hidden=True)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return ids


def mark_hidden(session: Session, image_id: int, hidden: bool, actor: User | None = None) -> Image:
    """Hide or bring back one image and audit it, without committing: the caller commits it together
    with whatever else the decision changes (a report queue resolving, for one)."""
    audit.require_moderator(actor, "hide and unhide images")
    image = session.get(Image, image_id)
    if image is None:
        raise NotFound(f"image {image_id} does not exist")
    image.hidden = hidden
    audit.record(session, actor, "image.hide" if hidden else "image.unhide", f"image {image_id}")
    return image


def set_hidden(session: Session, image_id: int, hidden: bool, actor: User | None = None) -> Image:
    """A moderator hides one image from the gallery, or brings it back; audited."""
    image = mark_hidden(session, image_id, hidden, actor)
    session.commit()
    return image


def hidden_images(session: Session, limit: int, offset: int = 0) -> list[Image]:
    """Hidden images, most recently made first, with their jobs (for the moderators' list)."""
    query = (
        select(Image)
        .options(joinedload(Image.job))
        .where(Image.hidden.is_(True))
        .order_by(Image.created_at.desc(), Image.id.desc())
    )
    return list(session.scalars(query.limit(limit).offset(offset)))


def hidden_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Image).where(Image.hidden.is_(True))) or 0)
