"""The blocking work behind /queue, /models, /reroll-exact, /remix and the context menus.

Like `bot.store`, every function is one short session run in a thread, so the event loop keeps
answering Discord within its deadlines. A remix of an image that is not in the gallery (read from
another bot's or a member's PNG) has no row to point at, so its recipe is parked in Redis under a
random key for a day: the modal's custom id carries the key, and the submit finds the recipe
whichever run of the bot receives it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from atelier import events
from atelier.errors import InvalidInput, NotFound
from atelier.schema import Image, JobSource, User
from atelier.services import channels, derive, jobs, listings
from atelier.services.models import enabled_checkpoints, resolve_checkpoint
from atelier.settings import Settings
from bot.choices import ModelChoice
from bot.store import Author, Queued, Where, check_here, ensure_user, open_session

STASH_PREFIX = "atelier:remix-recipe:"
STASH_SECONDS = 24 * 3600


@dataclass(frozen=True)
class RemixSource:
    """What the remix modal is prefilled with, and what its submit starts from."""

    recipe: Mapping[str, Any]
    seed: int
    parent_image_id: int | None
    note: str = ""
    """Said under the queued reply (e.g. that an unknown checkpoint was replaced by the default)."""


def checkpoint_choices(settings: Settings, where: Where) -> list[ModelChoice]:
    """The checkpoints a member may pick in this channel (its allow list, NSFW ones only where
    age-restricted), warm ones marked."""
    warm = listings.warm_checkpoints(settings)
    with open_session(settings) as session:
        usable = channels.usable_checkpoints(session, where.channel_id, where.age_restricted)
        return [ModelChoice(m.name, m.base_arch, m.name in warm) for m in usable]


def native_size(settings: Settings, checkpoint: str) -> int:
    """The native edge of the named checkpoint (the default for ""), 512 when the name is unknown."""
    with open_session(settings) as session:
        try:
            return resolve_checkpoint(session, checkpoint).native_size
        except InvalidInput:
            return 512


def my_jobs(settings: Settings, author: Author) -> list[listings.JobStanding]:
    with open_session(settings) as session:
        owner_id = session.scalar(select(User.id).where(User.discord_id == author.discord_id))
        if owner_id is None:
            return []
        return listings.member_jobs(session, settings, owner_id)


def catalogue(settings: Settings) -> list[listings.ModelEntry]:
    warm = listings.warm_checkpoints(settings)
    with open_session(settings) as session:
        return listings.catalogue(session, warm)


def submit_exact(settings: Settings, author: Author, where: Where, image_id: int) -> Queued:
    """Render a gallery image again from its stored recipe and seed; the worker compares the pixels."""
    with open_session(settings) as session:
        owner_id = ensure_user(session, author)
        image = session.get(Image, image_id)
        if image is not None and not image.hidden:  # else rerender_exact says the image does not exist
            check_here(session, where, image.job.recipe)
        job = jobs.rerender_exact(
            session,
            settings,
            image_id,
            source=JobSource.DISCORD,
            owner_id=owner_id,
            discord_channel_id=where.channel_id,
        )
        return Queued(job.id, job.queue_position or 1, job.eta_seconds)


def gallery_source(settings: Settings, image_id: int) -> RemixSource:
    with open_session(settings) as session:
        image = derive.source_image(session, image_id)
        return RemixSource(dict(image.job.recipe), image.seed, image.id)


def _source_of(image: Image) -> RemixSource:
    return RemixSource(dict(image.job.recipe), image.seed, image.id)


def message_image(settings: Settings, message_id: int) -> tuple[RemixSource, str] | None:
    """The gallery image a result message of ours carries, with its infotext; None if it carries none."""
    with open_session(settings) as session:
        image = listings.image_of_message(session, message_id)
        return None if image is None else (_source_of(image), image.infotext)


def job_image(settings: Settings, job_id: int, index: int) -> tuple[RemixSource, str] | None:
    """A visible gallery image by its job and place in the batch (what our result files are named after)."""
    with open_session(settings) as session:
        query = select(Image).where(Image.job_id == job_id, Image.index == index, Image.hidden.is_(False))
        image = session.scalars(query).first()
        return None if image is None else (_source_of(image), image.infotext)


def file_image(settings: Settings, data: bytes) -> tuple[RemixSource, str] | None:
    """The gallery image whose stored file is exactly these bytes (a re-posted Atelier PNG)."""
    digest = hashlib.sha256(data).hexdigest()
    with open_session(settings) as session:
        image = listings.image_of_file(session, f"{digest[:2]}/{digest}.png")
        return None if image is None else (_source_of(image), image.infotext)


def stash_external(settings: Settings, recipe: Mapping[str, Any]) -> str:
    """Park a recipe read from a PNG that is not in the gallery, for the modal's submit; returns its key
    (short enough for a custom id). A checkpoint this studio lacks is replaced by the default, and said."""
    data = dict(recipe)
    note = ""
    name = str(data.get("checkpoint") or "")
    if name:
        with open_session(settings) as session:
            known = {m.name for m in enabled_checkpoints(session)}
        if name not in known:
            data["checkpoint"] = ""
            note = f"(the image was made with {name!r}, which this studio does not have: the default model renders it)"
    key = secrets.token_hex(8)
    payload = json.dumps({"recipe": data, "note": note})
    events.shared_client(settings.redis_url).set(STASH_PREFIX + key, payload, ex=STASH_SECONDS)
    return key


def stashed(settings: Settings, key: str) -> RemixSource:
    raw = events.shared_client(settings.redis_url).get(STASH_PREFIX + key)
    if raw is None:
        raise NotFound("this remix form is more than a day old; open it again from the image")
    parked = json.loads(raw)
    recipe = parked["recipe"]
    return RemixSource(recipe, int(recipe.get("seed", -1)), None, str(parked.get("note") or ""))


def submit_remix(
    settings: Settings,
    author: Author,
    where: Where,
    source: RemixSource,
    changes: Mapping[str, Any],
) -> Queued:
    """One image from the source recipe with the member's changes, its parent the source image."""
    data = {**source.recipe, "count": 1, **changes}
    with open_session(settings) as session:
        owner_id = ensure_user(session, author)
        if source.parent_image_id is not None:
            derive.source_image(session, source.parent_image_id)  # still in the gallery
        check_here(session, where, data)
        job = jobs.submit(
            session,
            settings,
            data,
            source=JobSource.DISCORD,
            owner_id=owner_id,
            parent_image_id=source.parent_image_id,
            discord_channel_id=where.channel_id,
        )
        return Queued(job.id, job.queue_position or 1, job.eta_seconds)
