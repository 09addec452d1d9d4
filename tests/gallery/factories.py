"""Rows and files for gallery tests: finished jobs with real, content-addressed image files.

Pictures are drawn from the prompt's words (a colour and a shape on a background colour), the
same little world the bundled tiny model learns, so a screenshot of the feed looks like one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image as PILImage
from PIL import ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.db import session_scope
from atelier.infotext import build_infotext
from atelier.recipe import Recipe
from atelier.schema import Image, Job, JobSource, JobState, ModelFile, ModelKind, Role, User
from atelier.services import logins, votes
from atelier.settings import Settings
from atelier.storage import store_image
from gallery import login

COLOURS = {
    "red": (230, 72, 72),
    "green": (64, 190, 110),
    "blue": (60, 110, 230),
    "yellow": (245, 205, 70),
    "purple": (150, 90, 220),
    "orange": (245, 145, 60),
    "white": (235, 235, 240),
    "black": (25, 25, 30),
}


def picture(prompt: str, size: int = 256) -> PILImage.Image:
    """A picture of "<colour> <shape> on <colour> background", anti-aliased by supersampling."""
    words = prompt.lower().replace(",", " ").split()
    colours = [COLOURS[w] for w in words if w in COLOURS] or [(200, 200, 200)]
    fill = colours[0]
    back = colours[1] if len(colours) > 1 else (30, 34, 44)
    big = size * 4
    image = PILImage.new("RGB", (big, big), back)
    draw = ImageDraw.Draw(image)
    for i in range(0, big, 8):  # a soft vertical gradient so backgrounds are not flat
        shade = tuple(max(0, c - i * 40 // big) for c in back)
        draw.rectangle([(0, i), (big, i + 8)], fill=shade)
    box = (big * 0.2, big * 0.2, big * 0.8, big * 0.8)
    if "square" in words:
        draw.rounded_rectangle(box, radius=big // 24, fill=fill)
    elif "triangle" in words:
        draw.polygon([(big * 0.5, big * 0.16), (big * 0.85, big * 0.8), (big * 0.15, big * 0.8)], fill=fill)
    else:
        draw.ellipse(box, fill=fill)
    return image.resize((size, size), PILImage.Resampling.LANCZOS)


def add_image(
    settings: Settings,
    prompt: str = "a red circle on a blue background",
    *,
    created_at: datetime | None = None,
    hidden: bool = False,
    nsfw: bool = False,
    owner: str | None = None,
    size: int = 64,
    shape: tuple[int, int] | None = None,
    seed: int = 1234,
    negative_prompt: str = "",
    exact_of: int | None = None,
    exact_match: bool | None = None,
    parent: int | None = None,
    **recipe_fields: Any,
) -> dict[str, Any]:
    """Insert a finished job with one image (file written to the images dir); returns ids and paths.

    `owner` names the member who drew it (created on first use); `shape` (width, height) makes a
    picture that is not square; `exact_of`/`exact_match` make it an exact re-render of another image;
    `parent` makes it a remix of that image (its job's `parent_image_id`)."""
    created_at = created_at or datetime.now(UTC)
    width, height = shape or (size, size)
    recipe = Recipe(
        prompt=prompt,
        negative_prompt=negative_prompt,
        checkpoint="tiny-test",
        width=width,
        height=height,
        seed=seed,
        **recipe_fields,
    )
    infotext = build_infotext(recipe, seed=seed, model_name="tiny-test", model_hash="0123456789")
    image_file = picture(prompt, size) if shape is None else picture(prompt, max(shape)).resize(shape)
    stored = store_image(settings.paths.images_dir, image_file, infotext)
    with session_scope(settings.database_url) as session:
        checkpoint_id = session.scalar(select(ModelFile.id).where(ModelFile.name == "tiny-test"))
        job = Job(
            owner_id=_member(session, owner) if owner else None,
            source=JobSource.WEB,
            recipe=recipe.to_json(),
            checkpoint_id=checkpoint_id,
            state=JobState.DONE,
            progress_step=recipe.steps,
            progress_total=recipe.steps,
            created_at=created_at - timedelta(seconds=5),
            started_at=created_at - timedelta(seconds=4),
            finished_at=created_at,
            exact_of_image_id=exact_of,
            exact_match=exact_match,
            parent_image_id=parent,
        )
        session.add(job)
        session.flush()
        image = Image(
            job_id=job.id,
            index=0,
            seed=seed,
            infotext=infotext,
            hidden=hidden,
            nsfw=nsfw,
            created_at=created_at,
            **stored.__dict__,
        )
        session.add(image)
        session.flush()
        return {
            "job_id": job.id,
            "owner_id": job.owner_id,
            "image_id": image.id,
            "file_path": stored.file_path,
            "thumbnail_path": stored.thumbnail_path,
            "infotext": infotext,
        }


def _member(session: Session, name: str) -> int:
    user_id = session.scalar(select(User.id).where(User.name == name))
    if user_id is None:
        user = User(name=name)
        session.add(user)
        session.flush()
        user_id = user.id
    return user_id


def add_votes(settings: Settings, image_id: int, *values: int) -> None:
    """Record one vote per value on the image, each by a different new member."""
    with session_scope(settings.database_url) as session:
        for value in values:
            voter = User(name=f"voter-{uuid.uuid4().hex[:8]}")
            session.add(voter)
            session.flush()
            votes.record_vote(session, voter.id, image_id, value)  # the row and the image's score


def add_vote(settings: Settings, image_id: int, member: str, value: int = 1) -> int:
    """`member` (created on first use) votes for the image; returns the member's id."""
    with session_scope(settings.database_url) as session:
        voter = _member(session, member)
        votes.record_vote(session, voter, image_id, value)
        return voter


def add_model(settings: Settings, kind: ModelKind, name: str, **fields: Any) -> int:
    """Register a model row (no file: pages only read the row); returns its id."""
    values: dict[str, Any] = {
        "file_path": f"{kind.value}s/{uuid.uuid4().hex}.safetensors",
        "sha256": uuid.uuid4().hex * 2,
        "autov2": "abcdef0123",
        "autov3": "abcdef012345",
        "base_arch": "sd1",
        "size_bytes": 151_000_000,
        "trigger_words": [],
        **fields,
    }
    with session_scope(settings.database_url) as session:
        model = ModelFile(kind=kind, name=name, **values)
        session.add(model)
        session.flush()
        return model.id


def add_failed_job(settings: Settings, error: str = "RuntimeError: CUDA out of memory") -> int:
    """Insert a job that failed for good, with its reason; returns its id."""
    recipe = Recipe(prompt="a blue square", checkpoint="tiny-test", width=64, height=64, seed=3)
    with session_scope(settings.database_url) as session:
        job = Job(
            source=JobSource.WEB,
            recipe=recipe.to_json(),
            state=JobState.FAILED,
            attempts=3,
            error=error,
            progress_total=recipe.steps,
            finished_at=datetime.now(UTC),
        )
        session.add(job)
        session.flush()
        return job.id


def job_count(settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        return len(session.scalars(select(Job.id)).all())


def log_in_as(client: TestClient, settings: Settings, name: str, role: Role = Role.MEMBER) -> int:
    """Give `client` a fresh live session of the member called `name` (made with `role` on first use), as
    the login routes would make it; returns the member's id."""
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
