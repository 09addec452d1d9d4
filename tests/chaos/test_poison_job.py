"""A job that takes its worker down every time is failed after N attempts; the other jobs are all done."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from atelier.db import session_factory
from atelier.events import all_events_channel
from atelier.schema import Job, JobSource, JobState
from atelier.services.jobs import submit
from atelier.settings import Settings
from tests.helpers.processes import Process, start_worker

pytestmark = pytest.mark.slow

FAST_RECOVERY = {"ATELIER_LEASE_SECONDS": "3", "ATELIER_SWEEP_INTERVAL_SECONDS": "1", "ATELIER_MAX_ATTEMPTS": "3"}


def state_of(settings: Settings, job_id: int) -> Job:
    with session_factory(settings.database_url)() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_poison_job_fails_after_its_attempts(registered: Settings, tmp_path: Path) -> None:
    """Whenever a worker starts rendering the poison job it dies (SIGKILL, as a driver crash would do)."""
    listener = redis.Redis.from_url(registered.redis_url).pubsub()
    listener.subscribe(all_events_channel(registered.redis_url))
    with session_factory(registered.database_url)() as session:
        poison = submit(session, registered, {"prompt": "x", "steps": 150, "count": 4}, source=JobSource.CLI).id
        others = [
            submit(session, registered, {"prompt": "a red circle", "steps": 4, "seed": n}, source=JobSource.CLI).id
            for n in range(6)
        ]
    kills = 0
    # The attempt whose worker was killed last: progress the dead worker published before the kill
    # may still be in the subscription's buffer, and must not kill the next worker again.
    killed_attempt = 0
    worker: Process = start_worker(tmp_path / "worker0.log", FAST_RECOVERY)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and state_of(registered, poison).state != JobState.FAILED:
            message = listener.get_message(timeout=0.5)
            if message and message["type"] == "message":
                event = json.loads(message["data"])
                if event["type"] == "job.progress" and event["job_id"] == poison:
                    attempt = state_of(registered, poison).attempts
                    if attempt <= killed_attempt:
                        continue
                    worker.kill()
                    kills, killed_attempt = kills + 1, attempt
                    worker = start_worker(tmp_path / f"worker{kills}.log", FAST_RECOVERY)
        failed = state_of(registered, poison)
        while time.monotonic() < deadline and any(state_of(registered, j).state != JobState.DONE for j in others):
            time.sleep(0.5)
    finally:
        worker.stop()
    assert (failed.state, failed.attempts, kills) == (JobState.FAILED, 3, 3)
    assert failed.error == "the worker stopped responding during 3 attempts"
    with session_factory(registered.database_url)() as session:
        assert set(session.scalars(select(Job.state).where(Job.id.in_(others)))) == {JobState.DONE}
