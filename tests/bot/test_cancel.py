"""✖️ on the queued message: the requester or a moderator stops the job, and the message says so."""

from __future__ import annotations

import time

from atelier.schema import JobState
from atelier.settings import Settings
from tests.helpers.fake_discord import FakeDiscord, SentInteraction
from tests.helpers.processes import Process

from .actions import StartBot, all_jobs, custom_ids, draw, posts, private_answer

OTHER = 300_000_000_000_000_002
SETTLE = 1.5


def queued(fake: FakeDiscord, settings: Settings) -> tuple[SentInteraction, int]:
    sent = draw(fake, prompt="a red circle")
    return sent, all_jobs(settings)[-1].id


def says_cancelled(fake: FakeDiscord, message_id: str) -> dict[str, object]:
    return fake.wait_for_message(
        lambda m: m["id"] == message_id and "cancelled" in m["content"], what="the queued message saying cancelled"
    )


def test_queued_reply_has_a_cancel_button(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The "queued — #1" reply carries ✖️ for its job."""
    sent, job_id = queued(fake_discord, registered)
    assert custom_ids(fake_discord.original(sent)) == [f"atelier:cancel:{job_id}"]


def test_cancel_by_the_requester_ends_the_job(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The requester's ✖️ cancels the job; the queued message says cancelled, loses its button, and no
    other message is posted."""
    sent, job_id = queued(fake_discord, registered)
    message_id = fake_discord.original(sent)["id"]
    press = fake_discord.press_button(message_id, f"atelier:cancel:{job_id}")
    message = says_cancelled(fake_discord, message_id)
    assert custom_ids(message) == []
    (job,) = all_jobs(registered)
    assert job.state == JobState.CANCELLED
    time.sleep(SETTLE)
    assert posts(fake_discord, sent) == [] and posts(fake_discord, press) == []
    assert all_jobs(registered)[0].discord_message_id == int(message_id)


def test_cancel_by_another_member_is_refused(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Someone else's ✖️ gets a private refusal; the job keeps waiting and the button stays."""
    sent, job_id = queued(fake_discord, registered)
    message_id = fake_discord.original(sent)["id"]
    press = fake_discord.press_button(message_id, f"atelier:cancel:{job_id}", user=fake_discord.member(OTHER, "bob"))
    answer = private_answer(fake_discord, press)
    assert "not yours" in answer.content and "Traceback" not in answer.content
    assert all_jobs(registered)[0].state == JobState.QUEUED
    assert custom_ids(fake_discord.message(message_id)) == [f"atelier:cancel:{job_id}"]


def test_cancel_works_after_a_restart(start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A job queued under an earlier run of the bot can be cancelled from its old message."""
    first = start_bot()
    sent, job_id = queued(fake_discord, registered)
    message_id = fake_discord.original(sent)["id"]
    first.stop()
    fake_discord.expire_token(sent.token)
    start_bot()
    fake_discord.press_button(message_id, f"atelier:cancel:{job_id}")
    message = says_cancelled(fake_discord, message_id)
    assert custom_ids(message) == []
    assert all_jobs(registered)[0].state == JobState.CANCELLED
