"""Deliveries ping nobody: `@everyone` and role mentions typed into a prompt stay text."""

from __future__ import annotations

from atelier.settings import Settings
from tests.helpers.fake_discord import FakeDiscord, Recorded
from tests.helpers.processes import Process

from .actions import all_jobs, draw, finish_job, image_ids, result_message

PROMPT = "@everyone look <@&123> and @here"


def carrying_prompt(fake: FakeDiscord) -> list[Recorded]:
    """Every message the bot sent or edited whose text holds the prompt's mentions."""
    return [r for r in fake.requests() if "@everyone" in str(r.json)]


def test_prompt_mentions_ping_nobody(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The queued reply, its edits and the result message all forbid every mention."""
    draw(fake_discord, prompt=PROMPT)
    job_id = all_jobs(registered)[-1].id
    finish_job(registered, job_id)
    result_message(fake_discord, image_ids(registered, job_id)[0])
    sent = carrying_prompt(fake_discord)
    assert any(r.method == "POST" and "/webhooks/" in r.path for r in sent)  # the result followup
    for recorded in sent:
        allowed = recorded.allowed_mentions
        assert allowed is not None, f"{recorded.method} {recorded.path} sent no allowed_mentions"
        assert allowed.get("parse") == [] and not allowed.get("roles") and not allowed.get("users"), allowed


def test_channel_fallback_pings_only_the_requester(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """Posted in the channel (the token is dead), the result mentions its requester and nobody else."""
    sent = draw(fake_discord, prompt=PROMPT)
    fake_discord.expire_token(sent.token)
    job_id = all_jobs(registered)[-1].id
    finish_job(registered, job_id)
    path = f"/channels/{sent.channel_id}/messages"
    posted = fake_discord.wait_for(lambda r: r.method == "POST" and r.path == path, what="channel post")
    allowed = posted.allowed_mentions
    assert allowed is not None and allowed.get("parse") == [] and not allowed.get("roles")
    assert [int(u) for u in allowed["users"]] == [sent.user_id]
