"""The read-only queries behind the pages, in one place so "hidden" means hidden everywhere.

Moderators hide an image by flagging its row; every query here leaves hidden rows out, so no page,
API answer or file download can show one. (Writes go through `atelier.services` only.)
"""

from __future__ import annotations

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, joinedload

from atelier.errors import NotFound
from atelier.schema import Image, Job


def recent_images(session: Session, *, limit: int, offset: int = 0) -> list[Image]:
    """Visible images, newest first, with their jobs loaded (the cards show the recipe)."""
    query = (
        select(Image)
        .options(joinedload(Image.job))
        .where(Image.hidden.is_(False))
        .order_by(Image.created_at.desc(), Image.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))


def visible_image(session: Session, image_id: int) -> Image:
    image = session.scalars(
        select(Image).options(joinedload(Image.job)).where(Image.id == image_id, Image.hidden.is_(False))
    ).first()
    if image is None:
        raise NotFound(f"image {image_id} does not exist")
    return image


def visible_images_of(session: Session, job: Job) -> list[Image]:
    query = select(Image).where(Image.job_id == job.id, Image.hidden.is_(False)).order_by(Image.index)
    return list(session.scalars(query))


def is_public_file(session: Session, relative_path: str) -> bool:
    """True when a visible image uses the file (as picture or thumbnail)."""
    used = or_(Image.file_path == relative_path, Image.thumbnail_path == relative_path)
    return bool(session.scalar(select(exists().where(used, Image.hidden.is_(False)))))
