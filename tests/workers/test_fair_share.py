"""Two real worker processes serve five members' bursts fairly, each job exactly once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from atelier.db import session_factory
from atelier.events import all_events_channel
from atelier.schema import Image, Job, JobSource, JobState, User
from atelier.services.jobs import submit
from atelier.settings import Settings
from tests.helpers.processes import start_worker

pytestmark = pytest.mark.slow

STEPS = 40  # long enough (about 0.3 s a job) that a burst is still waiting when the others arrive


def test_burst_does_not_starve_other_members(registered: Settings, tmp_path: Path) -> None:
    """While both workers are busy, member A queues 20 at once and B to E five each: all 40 are done
    once, and B's first job finishes before A's sixth (batches are filled in fair order too)."""
    listener = redis.Redis.from_url(registered.redis_url).pubsub()
    listener.subscribe(all_events_channel(registered.redis_url))
    workers = [start_worker(tmp_path / f"worker{n}.log") for n in range(2)]
    try:
        with session_factory(registered.database_url)() as session:
            members = [User(name=name) for name in "ABCDEF"]
            session.add_all(members)
            session.commit()
            busy = [  # two jobs no batch can join (their steps differ), one for each worker
                submit(session, registered, {"prompt": "x", "steps": steps, "count": 4}, source=JobSource.WEB,
                       owner_id=members[-1].id).id
                for steps in (150, 149)
            ]  # fmt: skip
            while session.scalar(select(func.count()).where(Job.id.in_(busy), Job.state == JobState.RUNNING)) < 2:
                time.sleep(0.1)
            owned: dict[str, list[int]] = {}
            for member, count in zip(members[:5], (20, 5, 5, 5, 5), strict=True):
                data = {"prompt": "a red circle", "steps": STEPS, "seed": 1}
                owned[member.name] = [
                    submit(session, registered, data, source=JobSource.WEB, owner_id=member.id).id for _ in range(count)
                ]
        every_job = [job_id for ids in owned.values() for job_id in ids]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with session_factory(registered.database_url)() as session:
                finished = session.scalars(select(Job).where(Job.id.in_(every_job), Job.state == JobState.DONE)).all()
                if len(finished) == len(every_job):
                    break
            time.sleep(0.5)
        with session_factory(registered.database_url)() as session:
            done = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(every_job)))}
            image_jobs = list(session.scalars(select(Image.job_id).where(Image.job_id.in_(every_job))))
    finally:
        for worker in workers:
            worker.stop()
    assert all(job.state == JobState.DONE for job in done.values()), [j.error for j in done.values()]
    assert sorted(image_jobs) == sorted(every_job)  # one image each: nothing rendered twice
    done_events: list[int] = []
    while (message := listener.get_message(timeout=0.5)) is not None:
        if message["type"] == "message" and json.loads(message["data"])["type"] == "job.done":
            done_events.append(json.loads(message["data"])["job_id"])
    assert sorted(job_id for job_id in done_events if job_id not in busy) == sorted(every_job)
    a_sixth = done[owned["A"][5]].finished_at
    b_first = done[owned["B"][0]].finished_at
    assert b_first is not None and a_sixth is not None and b_first < a_sixth
    assert len({job.lease_owner for job in done.values()}) == 2  # both workers rendered
