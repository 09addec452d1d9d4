"""Hiding a render: its owner or a moderator, every image of the job, nobody else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.errors import Forbidden, NotFound
from atelier.schema import Image, Job, JobSource, JobState, Role, User
from atelier.services.jobs import Actor
from atelier.services.removal import hide_render


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with session_factory(database_url)() as opened:
        yield opened


def render(session: Session, images: int = 2) -> tuple[User, list[int]]:
    owner = User(name="ada")
    session.add(owner)
    session.flush()
    job = Job(owner_id=owner.id, source=JobSource.DISCORD, recipe={"prompt": "x"}, state=JobState.DONE)
    session.add(job)
    session.flush()
    rows = [
        Image(job_id=job.id, index=i, seed=i, file_path=f"ab/{i}.png", thumbnail_path=f"ab/{i}.webp", width=64,
              height=64, infotext="x")
        for i in range(images)
    ]  # fmt: skip
    session.add_all(rows)
    session.commit()
    return owner, [row.id for row in rows]


def hidden(session: Session) -> list[bool]:
    session.expire_all()
    return list(session.scalars(select(Image.hidden).order_by(Image.id)))


def test_owner_hides_every_image_of_the_job(session: Session) -> None:
    """The job's owner hides the whole render (one Discord message shows all its images)."""
    owner, ids = render(session)
    assert hide_render(session, ids[1], Actor(owner.id)) == ids
    assert hidden(session) == [True, True]


def test_another_member_is_refused(session: Session) -> None:
    """Someone else gets Forbidden and nothing changes."""
    _owner, ids = render(session)
    other = User(name="bob")
    session.add(other)
    session.commit()
    with pytest.raises(Forbidden):
        hide_render(session, ids[0], Actor.of(other))
    assert hidden(session) == [False, False]


def test_a_moderator_may_hide_it(session: Session) -> None:
    """A moderator hides another member's render."""
    _owner, ids = render(session)
    moderator = User(name="mod", role=Role.MODERATOR)
    session.add(moderator)
    session.commit()
    hide_render(session, ids[0], Actor.of(moderator))
    assert hidden(session) == [True, True]


def test_unknown_image_is_not_found(session: Session) -> None:
    """A missing image id raises NotFound."""
    with pytest.raises(NotFound):
        hide_render(session, 999, Actor(None, moderator=True))
