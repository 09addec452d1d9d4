"""Chaos: workers SIGKILLed mid-render twenty times over; every job is still done exactly once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from atelier.db import session_factory
from atelier.events import all_events_channel
from atelier.schema import Image, Job, JobSource, JobState
from atelier.services.jobs import submit
from atelier.settings import Settings
from tests.helpers.processes import start_worker

pytestmark = pytest.mark.slow

KILLS = 20
FAST_RECOVERY = {"ATELIER_LEASE_SECONDS": "3", "ATELIER_SWEEP_INTERVAL_SECONDS": "1"}


class Recorder:
    """Every job event on the install's channel, kept: waiting for one must not lose the others."""

    def __init__(self, settings: Settings) -> None:
        self.listener = redis.Redis.from_url(settings.redis_url).pubsub()
        self.listener.subscribe(all_events_channel(settings.redis_url))
        self.seen: list[dict[str, object]] = []

    def drain(self, timeout: float = 0.5) -> None:
        while (message := self.listener.get_message(timeout=timeout)) is not None:
            if message["type"] == "message":
                self.seen.append(json.loads(message["data"]))

    def wait_for(self, kind: str, job_id: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.drain()
            if any(event["type"] == kind and event["job_id"] == job_id for event in self.seen):
                return
        raise TimeoutError(f"no {kind} from job {job_id}")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_twenty_kills_lose_and_duplicate_nothing(registered: Settings, tmp_path: Path) -> None:
    recorder = Recorder(registered)
    data = {"prompt": "a red circle", "steps": 60, "count": 4, "width": 64, "height": 64}
    killed: list[int] = []
    for round_number in range(KILLS):
        worker = start_worker(tmp_path / f"killed{round_number}.log", FAST_RECOVERY)
        with session_factory(registered.database_url)() as session:
            job_id = submit(session, registered, {**data, "seed": round_number}, source=JobSource.CLI).id
        recorder.wait_for("job.progress", job_id)
        worker.kill()
        killed.append(job_id)
    survivor = start_worker(tmp_path / "survivor.log", FAST_RECOVERY)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with session_factory(registered.database_url)() as session:
                states = set(session.scalars(select(Job.state).where(Job.id.in_(killed))))
            if states == {JobState.DONE}:
                break
            time.sleep(0.5)
    finally:
        survivor.stop()
    with session_factory(registered.database_url)() as session:
        assert set(session.scalars(select(Job.state).where(Job.id.in_(killed)))) == {JobState.DONE}
        per_job = select(Image.job_id, func.count()).where(Image.job_id.in_(killed)).group_by(Image.job_id)
        counts = {job_id: count for job_id, count in session.execute(per_job)}
    assert counts == dict.fromkeys(killed, 4)
    recorder.drain()
    done_events = [event["job_id"] for event in recorder.seen if event["type"] == "job.done"]
    assert sorted(done_events) == sorted(killed)  # type: ignore[type-var]
