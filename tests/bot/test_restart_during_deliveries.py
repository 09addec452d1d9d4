"""Chaos: the bot restarts while results are being delivered; every result is posted exactly once."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from atelier.settings import Settings
from tests.helpers.fake_discord import FakeDiscord

from .actions import StartBot, all_jobs, draw, finish_job

pytestmark = pytest.mark.slow

JOBS = 10


def result_posts_per_job(fake: FakeDiscord, image_bytes: dict[bytes, int]) -> Counter[int]:
    """How many posted messages carried each job's PNG (followups and channel messages alike)."""
    counts: Counter[int] = Counter()
    for request in fake.requests("POST"):
        for attached in request.files:
            if attached.data in image_bytes:
                counts[image_bytes[attached.data]] += 1
    return counts


def test_every_result_is_delivered_once_across_a_restart(
    start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """Ten jobs: half finish while the first bot runs (it is stopped at once, mid-delivery), half while no
    bot runs; the restarted bot posts what is owed and nothing twice."""
    first = start_bot(ATELIER_BOT_FOLLOWUP_SECONDS="0")
    for n in range(JOBS):
        draw(fake_discord, prompt=f"a red circle number {n}", seed=n)
    ids = [job.id for job in all_jobs(registered)]
    image_bytes: dict[bytes, int] = {}
    for job_id in ids[: JOBS // 2]:
        image_bytes[finish_job(registered, job_id)] = job_id
    first.stop()  # a restart, while the first deliveries are under way
    for job_id in ids[JOBS // 2 :]:
        image_bytes[finish_job(registered, job_id)] = job_id
    start_bot(ATELIER_BOT_FOLLOWUP_SECONDS="0")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(job.discord_message_id is None for job in all_jobs(registered)):
        time.sleep(0.3)
    time.sleep(1.5)  # a repeated post would arrive within the bot's re-check rounds
    assert all(job.discord_message_id is not None for job in all_jobs(registered))
    assert result_posts_per_job(fake_discord, image_bytes) == dict.fromkeys(ids, 1)
