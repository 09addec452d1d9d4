"""The read-only queries behind the pages, in one place so "hidden" means hidden everywhere.

Moderators hide an image by flagging its row; `visible_to` is the one condition that decides who
sees such a row, and every query here (and the feed's, in `gallery.feed`) applies it, so no page,
API answer or file download can show a hidden image to a visitor. (Writes go through
`atelier.services` only.)
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import ColumnElement, Select, bindparam, exists, or_, select, true
from sqlalchemy.orm import Session, aliased, joinedload

from atelier.errors import NotFound
from atelier.schema import Image, Job, ModelFile, ModelKind
from gallery.viewer import ANONYMOUS, Viewer


def visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """The images `viewer` may see: every one for moderators, the unhidden ones for everyone else."""
    if viewer.is_moderator:
        return true()
    return Image.hidden.is_(False)


@lru_cache(maxsize=2)
def _image_query(moderator: bool) -> Select[tuple[Image, bool]]:
    """The image page's query for one kind of viewer (`visible_to` depends on nothing else), built
    once: building the statement and its cache key again cost a third of a millisecond a request."""
    remix = aliased(Job)
    return (
        select(Image, exists().where(remix.parent_image_id == Image.id))
        .options(joinedload(Image.job).joinedload(Job.owner))
        .where(Image.id == bindparam("image_id"), visible_to(Viewer(is_moderator=moderator)))
    )


def visible_image(session: Session, image_id: int, viewer: Viewer = ANONYMOUS) -> tuple[Image, bool]:
    """The image with its job and owner (every image page shows both), and whether any job remixed
    it (so its lineage need not look for remixes that do not exist), in one query; or NotFound."""
    row = session.execute(_image_query(viewer.is_moderator), {"image_id": image_id}).first()
    if row is None:
        raise NotFound(f"image {image_id} does not exist")
    return row[0], bool(row[1])


def visible_images_of(session: Session, job: Job, viewer: Viewer = ANONYMOUS) -> list[Image]:
    query = select(Image).where(Image.job_id == job.id, visible_to(viewer)).order_by(Image.index)
    return list(session.scalars(query))


def is_public_file(session: Session, relative_path: str) -> bool:
    """True when an image that anyone may see uses the file (as picture or thumbnail).

    Anonymous on purpose: files are cached by browsers and proxies (see `gallery.routes.files`),
    so a file is served only when it would be served to everyone."""
    used = or_(Image.file_path == relative_path, Image.thumbnail_path == relative_path)
    return bool(session.scalar(select(exists().where(used, visible_to(ANONYMOUS)))))


def is_visible_file(session: Session, relative_path: str, viewer: Viewer) -> bool:
    """True when an image the viewer may see uses the file (moderators: hidden images' files too)."""
    used = or_(Image.file_path == relative_path, Image.thumbnail_path == relative_path)
    return bool(session.scalar(select(exists().where(used, visible_to(viewer)))))


def model_names(session: Session) -> dict[ModelKind, list[str]]:
    """Names of every registered model by kind, enabled or not (old images keep their models), in one query."""
    names: dict[ModelKind, list[str]] = {kind: [] for kind in ModelKind}
    for kind, name in session.execute(select(ModelFile.kind, ModelFile.name).order_by(ModelFile.name)):
        names[kind].append(name)
    return names
