"""Driving the bot under test: send /draw, press buttons, and finish or fail jobs the way a worker would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PIL import Image as PILImage
from sqlalchemy import select

from atelier import events
from atelier.db import session_scope
from atelier.schema import Image as ImageRow
from atelier.schema import Job
from atelier.services import jobs
from atelier.settings import Settings
from atelier.storage import store_image
from tests.helpers.fake_discord import AUTOCOMPLETE_RESULT, EPHEMERAL, MODAL, FakeDiscord, Recorded, SentInteraction
from tests.helpers.processes import Process

WORKER = "test-worker"
StartBot = Callable[..., Process]  # the `start_bot` fixture: extra environment as keywords


class Unheard:
    """A Redis stand-in whose events reach nobody, as when the bot is reconnecting."""

    def publish(self, channel: str, message: str) -> int:
        return 0


def draw(fake: FakeDiscord, user: dict[str, Any] | None = None, **options: Any) -> SentInteraction:
    """Send /draw (as `user`, default Ada) and wait until the bot has answered with its queue position."""
    sent = fake.send_slash_command("draw", options, user=user)
    fake.wait_for(lambda r: r.method == "PATCH" and r.path == sent.original_path, what="queued reply")
    return sent


def all_jobs(settings: Settings) -> list[Job]:
    with session_scope(settings.database_url) as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def finish_job(settings: Settings, job_id: int, *, publish: bool = True, exact_match: bool | None = None) -> bytes:
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
        assert jobs.complete(session, client, job_id, WORKER, [record], exact_match=exact_match)
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


def custom_ids(message: dict[str, Any]) -> list[str]:
    """The custom_id of every button on a message, in order (link buttons have none)."""
    rows = message.get("components") or []
    return [c["custom_id"] for row in rows for c in row.get("components") or [] if "custom_id" in c]


def links(message: dict[str, Any]) -> list[str]:
    rows = message.get("components") or []
    return [c["url"] for row in rows for c in row.get("components") or [] if "url" in c]


def result_message(fake: FakeDiscord, image_id: int, timeout: float = 15.0) -> dict[str, Any]:
    """The message that delivered this image, once it exists with its buttons."""
    wanted = f"atelier:reroll:{image_id}"
    return fake.wait_for_message(lambda m: wanted in custom_ids(m), timeout=timeout, what=f"result of {image_id}")


def image_ids(settings: Settings, job_id: int) -> list[int]:
    with session_scope(settings.database_url) as session:
        return list(session.scalars(select(ImageRow.id).where(ImageRow.job_id == job_id).order_by(ImageRow.index)))


def delivered_image(fake: FakeDiscord, settings: Settings, **options: Any) -> tuple[int, dict[str, Any]]:
    """/draw, finish the job as a worker would, and wait for its result message: (image id, message)."""
    draw(fake, **options)
    job_id = all_jobs(settings)[-1].id
    finish_job(settings, job_id)
    (image_id,) = image_ids(settings, job_id)
    return image_id, result_message(fake, image_id)


def answered(fake: FakeDiscord, sent: SentInteraction) -> Recorded:
    """The interaction's callback, waiting for it."""
    return fake.wait_for(lambda r: r.method == "POST" and r.path == sent.callback_path, what="interaction callback")


def private_answer(fake: FakeDiscord, sent: SentInteraction) -> Recorded:
    """The ephemeral followup the bot sent for this interaction."""
    return fake.wait_for(
        lambda r: r.method == "POST" and r.path == sent.webhook_path and bool(r.flags & EPHEMERAL),
        what="ephemeral followup",
    )


def choices(fake: FakeDiscord, sent: SentInteraction) -> list[dict[str, Any]]:
    """The autocomplete suggestions the bot answered with."""
    callback = fake.callback_of(sent)
    assert callback.json["type"] == AUTOCOMPLETE_RESULT, callback.json
    return list(callback.json["data"]["choices"])


def modal(fake: FakeDiscord, sent: SentInteraction) -> tuple[str, dict[str, str]]:
    """The form the bot opened: its custom id and its inputs' prefilled values by custom id."""
    callback = fake.callback_of(sent)
    assert callback.json["type"] == MODAL, callback.json
    data = callback.json["data"]
    inputs = [c for row in data["components"] for c in row.get("components") or [row.get("component") or {}]]
    return data["custom_id"], {c["custom_id"]: c.get("value") or "" for c in inputs if "custom_id" in c}
