"""Delivery of finished jobs: once each, by followup or, when the token is dead, in the channel."""

from __future__ import annotations

import time

import redis

from atelier.settings import Settings
from bot.delivery import REDIS_CLIENT_NAME
from tests.helpers.fake_discord import FakeDiscord, SentInteraction
from tests.helpers.processes import Process

from .actions import StartBot, all_jobs, draw, fail_job, finish_job, posts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SETTLE = 1.5  # three re-check rounds (ATELIER_BOT_RECHECK_SECONDS=0.5 in these tests)


def drawn_job(fake: FakeDiscord, settings: Settings, **options: object) -> tuple[SentInteraction, int]:
    sent = draw(fake, **options)
    (job,) = all_jobs(settings)
    return sent, job.id


def wait_for_post(fake: FakeDiscord, sent: SentInteraction, path: str) -> None:
    fake.wait_for(lambda r: r.method == "POST" and r.path == path, what=f"a message posted to {path}")
    time.sleep(SETTLE)


def test_done_job_is_delivered_with_its_image(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A finished job's PNG is posted as a followup, with the prompt and seed in the text."""
    sent, job_id = drawn_job(fake_discord, registered, prompt="a red circle", seed=42, steps=4)
    png = finish_job(registered, job_id)
    message = fake_discord.wait_for(lambda r: r.method == "POST" and r.path == sent.webhook_path and bool(r.files))
    (attached,) = message.files
    assert attached.data == png and attached.data.startswith(PNG_SIGNATURE)
    assert "a red circle" in message.content and "seed 42" in message.content


def test_done_job_is_delivered_exactly_once(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The event and the periodic re-check both see the job finish; only one message is posted."""
    sent, job_id = drawn_job(fake_discord, registered, prompt="a red circle")
    finish_job(registered, job_id)
    wait_for_post(fake_discord, sent, sent.webhook_path)
    assert len(posts(fake_discord, sent)) == 1


def test_failed_job_gets_the_reason(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A job marked failed is answered with one message carrying the failure's reason."""
    sent, job_id = drawn_job(fake_discord, registered, prompt="a red circle")
    fail_job(registered, job_id, "CUDA out of memory")
    wait_for_post(fake_discord, sent, sent.webhook_path)
    (message,) = posts(fake_discord, sent)
    assert "render failed" in message.content and "CUDA out of memory" in message.content
    assert not message.files


def test_missed_event_is_delivered_by_the_recheck(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """A job whose done event never reached the bot is still delivered, once, from the database."""
    sent, job_id = drawn_job(fake_discord, registered, prompt="a red circle")
    finish_job(registered, job_id, publish=False)
    wait_for_post(fake_discord, sent, sent.webhook_path)
    (message,) = posts(fake_discord, sent)
    assert message.files


def test_dead_token_falls_back_to_a_channel_message(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """When Discord refuses the interaction token, the image goes to the channel with the bot token."""
    sent, job_id = drawn_job(fake_discord, registered, prompt="a red circle")
    fake_discord.expire_token(sent.token)
    png = finish_job(registered, job_id)
    channel_path = f"/channels/{sent.channel_id}/messages"
    wait_for_post(fake_discord, sent, channel_path)
    (message,) = fake_discord.requests("POST", channel_path)
    assert message.authorization == f"Bot {fake_discord.token}"
    assert [f.data for f in message.files] == [png]
    assert f"<@{sent.user_id}>" in message.content
    assert [int(u) for u in message.json["allowed_mentions"]["users"]] == [sent.user_id]


def test_old_interaction_goes_straight_to_the_channel(
    start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """Past the token's lifetime the bot does not try a followup at all."""
    start_bot(ATELIER_BOT_FOLLOWUP_SECONDS="0")
    sent, job_id = drawn_job(fake_discord, registered, prompt="a red circle")
    finish_job(registered, job_id)
    channel_path = f"/channels/{sent.channel_id}/messages"
    wait_for_post(fake_discord, sent, channel_path)
    assert [r.path for r in posts(fake_discord, sent)] == [channel_path]


def test_job_finished_while_the_bot_was_down_is_delivered_after_restart(
    start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """A restarted bot posts what the previous run still owed, in the job's channel."""
    first = start_bot()
    sent, job_id = drawn_job(fake_discord, registered, prompt="a red circle")
    first.stop()
    png = finish_job(registered, job_id)
    start_bot()
    channel_path = f"/channels/{sent.channel_id}/messages"
    wait_for_post(fake_discord, sent, channel_path)
    (message,) = posts(fake_discord, sent)
    assert [f.data for f in message.files] == [png]


def test_delivered_job_is_not_posted_again_after_restart(
    start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """The delivery is recorded on the job, so the next run of the bot does not repeat it."""
    first = start_bot()
    sent, job_id = drawn_job(fake_discord, registered, prompt="a red circle")
    finish_job(registered, job_id)
    wait_for_post(fake_discord, sent, sent.webhook_path)
    first.stop()
    start_bot()
    time.sleep(SETTLE)
    assert len(posts(fake_discord, sent)) == 1
    (job,) = all_jobs(registered)
    assert job.discord_message_id is not None


def test_events_resume_after_the_redis_connection_drops(
    start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """After Redis drops the bot's subscription it subscribes again and delivers on the next event."""
    start_bot(ATELIER_BOT_RECHECK_SECONDS="300")  # only an event can deliver within this test
    sent, job_id = drawn_job(fake_discord, registered, prompt="a red circle")
    admin = redis.Redis.from_url(registered.redis_url, decode_responses=True)
    (old,) = [c for c in admin.client_list() if c["name"] == REDIS_CLIENT_NAME]
    admin.client_kill_filter(_id=old["id"])
    deadline = time.monotonic() + 20
    while not any(c["name"] == REDIS_CLIENT_NAME and c["id"] != old["id"] for c in admin.client_list()):
        assert time.monotonic() < deadline, "the bot did not subscribe again"
        time.sleep(0.2)
    finish_job(registered, job_id)
    fake_discord.wait_for(lambda r: r.method == "POST" and r.path == sent.webhook_path and bool(r.files), timeout=10)
