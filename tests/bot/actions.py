"""Driving the bot under test: send /draw, and finish or fail its job the way a worker would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image as PILImage
from sqlalchemy import select

from atelier import events
from atelier.db import session_scope
from atelier.schema import Job
from atelier.services import jobs
from atelier.settings import Settings
from atelier.storage import store_image
from tests.helpers.fake_discord import FakeDiscord, Recorded, SentInteraction
from tests.helpers.processes import Process

WORKER = "test-worker"
StartBot = Callable[..., Process]  # the `start_bot` fixture: extra environment as keywords


class Unheard:
    """A Redis stand-in whose events reach nobody, as when the bot is reconnecting."""

    def publish(self, channel: str, message: str) -> int:
        return 0


def draw(fake: FakeDiscord, **options: Any) -> SentInteraction:
    """Send /draw and wait until the bot has answered with its queue position."""
    sent = fake.send_slash_command("draw", options)
    fake.wait_for(lambda r: r.method == "PATCH" and r.path == sent.original_path, what="queued reply")
    return sent


def all_jobs(settings: Settings) -> list[Job]:
    with session_scope(settings.database_url) as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def finish_job(settings: Settings, job_id: int, *, publish: bool = True) -> bytes:
    """Claim and complete the job with one real PNG in the store; returns the PNG's bytes."""
    with session_scope(settings.database_url) as session:
        job = jobs.claim(session, job_id, WORKER, 60)
        assert job is not None
        recipe = job.recipe
        infotext = f"{recipe['prompt']}\nSteps: {recipe['steps']}, Seed: {recipe['seed']}"
        image = PILImage.new("RGB", (64, 64), (220, 40, 40))
        stored = store_image(settings.paths.images_dir, image, infotext)
        record = jobs.ImageRecord(
            index=0,
            seed=recipe["seed"],
            file_path=stored.file_path,
            thumbnail_path=stored.thumbnail_path,
            width=stored.width,
            height=stored.height,
            infotext=infotext,
        )
        client: Any = events.redis_client(settings.redis_url) if publish else Unheard()
        assert jobs.complete(session, client, job_id, WORKER, [record])
    return (settings.paths.images_dir / stored.file_path).read_bytes()


def fail_job(settings: Settings, job_id: int, reason: str) -> None:
    with session_scope(settings.database_url) as session:
        assert jobs.claim(session, job_id, WORKER, 60) is not None
        client = events.redis_client(settings.redis_url)
        assert jobs.fail(session, client, job_id, WORKER, reason, max_attempts=1) is not None


def posts(fake: FakeDiscord, sent: SentInteraction) -> list[Recorded]:
    """Messages the bot tried to post for this interaction: followups and channel messages."""
    channel_path = f"/channels/{sent.channel_id}/messages"
    return [r for r in fake.requests("POST") if r.path in (sent.webhook_path, channel_path)]
