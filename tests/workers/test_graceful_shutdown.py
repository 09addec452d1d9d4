"""Graceful shutdown: SIGTERM lets a render that fits in the grace period finish, and gives a longer one
straight back to the queue, where another worker finishes it once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from atelier.db import session_factory
from atelier.schema import Image, Job, JobSource, JobState
from atelier.services.jobs import submit
from atelier.settings import Settings
from tests.helpers.processes import start_worker
from tests.workers.test_worker_kills import Recorder

pytestmark = pytest.mark.slow

LONG = {"prompt": "a red circle", "steps": 150, "count": 4, "width": 64, "height": 64, "seed": 3}


def _job(settings: Settings, job_id: int) -> Job:
    with session_factory(settings.database_url)() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _images(settings: Settings, job_id: int) -> int:
    with session_factory(settings.database_url)() as session:
        return int(session.scalar(select(func.count()).select_from(Image).where(Image.job_id == job_id)) or 0)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_sigterm_requeues_a_long_render_for_another_worker(registered: Settings, tmp_path: Path) -> None:
    """A render that cannot end within the grace is stopped, queued again at once (lease released, the
    attempt not counted) and finished by a second worker exactly once."""
    recorder = Recorder(registered)
    first = start_worker(tmp_path / "first.log", {"ATELIER_SHUTDOWN_GRACE_SECONDS": "1"})
    with session_factory(registered.database_url)() as session:
        job_id = submit(session, registered, LONG, source=JobSource.CLI).id
    recorder.wait_for("job.progress", job_id)
    stopped_at = time.monotonic()
    first.stop(timeout=30)
    assert first.popen.returncode == 0
    assert time.monotonic() - stopped_at < 15
    assert f"stopped: the worker is shutting down; requeued [{job_id}]" in first.log()
    job = _job(registered, job_id)
    assert (job.state, job.lease_owner, job.lease_expires_at, job.attempts) == (JobState.QUEUED, None, None, 0)
    assert job.enqueued_at is not None  # a fresh message: the sweeper has nothing to recover
    second = start_worker(tmp_path / "second.log")
    try:
        recorder.wait_for("job.done", job_id, timeout=180)
    finally:
        second.stop()
    job = _job(registered, job_id)
    assert (job.state, job.attempts) == (JobState.DONE, 1)
    assert _images(registered, job_id) == 4
    recorder.drain()
    assert [e["job_id"] for e in recorder.seen if e["type"] == "job.done"] == [job_id]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_sigterm_lets_a_render_within_the_grace_finish(registered: Settings, tmp_path: Path) -> None:
    """The same render with a grace period long enough ends done before the worker exits."""
    recorder = Recorder(registered)
    worker = start_worker(tmp_path / "worker.log", {"ATELIER_SHUTDOWN_GRACE_SECONDS": "120"})
    with session_factory(registered.database_url)() as session:
        job_id = submit(session, registered, LONG, source=JobSource.CLI).id
    recorder.wait_for("job.progress", job_id)
    worker.stop(timeout=150)
    assert worker.popen.returncode == 0
    job = _job(registered, job_id)
    assert (job.state, job.attempts) == (JobState.DONE, 1)
    assert _images(registered, job_id) == 4
    assert "shutting down" in worker.log()
