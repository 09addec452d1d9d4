"""Redis restarts empty with 100 jobs waiting: every job is still rendered, and none twice."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from atelier.db import session_factory
from atelier.schema import Image, Job, JobSource, JobState
from atelier.services.jobs import submit
from atelier.settings import Settings
from tests.chaos.conftest import settings_with
from tests.helpers.private_services import PrivateRedis
from tests.helpers.processes import running_worker

pytestmark = pytest.mark.slow

JOBS = 100
DONE = re.compile(r"(?:job (\d+)|batch of \d+ jobs \(([\d, ]+)\)): done in")
SOME_DONE = re.compile(r"batch of \d+ jobs \([\d, ]+\): (?:.*; )?done \(([\d, ]+)\)")


def rendered_ids(log: str) -> list[int]:
    """Job ids from the worker's own "job 7: done in …", "batch of 3 jobs (7, 8, 9): done in …" and
    "batch of 3 jobs (7, 8, 9): done (7, 9); … in …" lines (Celery's task trace repeats each result;
    it is left out)."""
    found = []
    for line in log.splitlines():
        if "celery.app.trace" in line:
            continue
        for match in DONE.finditer(line):
            found += [int(n) for n in (match.group(1) or match.group(2)).split(",")]
        for match in SOME_DONE.finditer(line):
            found += [int(n) for n in match.group(1).split(",")]
    return found


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_jobs_survive_a_broker_that_forgot_them(
    registered: Settings, private_redis: PrivateRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_with(monkeypatch, ATELIER_REDIS_URL=private_redis.url, ATELIER_SWEEP_INTERVAL_SECONDS="1")
    with running_worker(tmp_path / "worker.log") as worker:
        with session_factory(settings.database_url)() as session:
            data = {"prompt": "a red circle", "steps": 2, "width": 64, "height": 64}
            ids = [submit(session, settings, {**data, "seed": n}, source=JobSource.CLI).id for n in range(JOBS)]
        private_redis.kill()  # most of the 100 messages are still waiting in the broker: all lost
        private_redis.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with session_factory(settings.database_url)() as session:
                done = session.scalar(select(func.count()).where(Job.id.in_(ids), Job.state == JobState.DONE))
            if done == JOBS:
                break
            time.sleep(1)
    log = worker.log()  # read after the worker stopped: a job's "done" line follows its commit
    with session_factory(settings.database_url)() as session:
        assert session.scalar(select(func.count()).where(Job.id.in_(ids), Job.state == JobState.DONE)) == JOBS
        assert session.scalar(select(func.count()).select_from(Image).where(Image.job_id.in_(ids))) == JOBS
    rendered = rendered_ids(log)
    assert sorted(rendered) == sorted(ids)  # each rendered exactly once
    assert "enqueuing again" in log or "requeued" in log
