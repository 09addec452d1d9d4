"""The render path through a real worker process and the real broker."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
from PIL import Image as PILImage

from atelier.db import session_factory
from atelier.events import ALL_EVENTS
from atelier.schema import Image, Job, JobSource, JobState
from atelier.services.jobs import submit
from atelier.settings import Settings
from atelier.storage import read_infotext
from tests.helpers.processes import Process, start_worker

pytestmark = pytest.mark.slow


def wait_for_state(settings: Settings, job_id: int, states: set[JobState], timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_factory(settings.database_url)() as session:
            job = session.get(Job, job_id)
            assert job is not None
            if job.state in states:
                return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} never reached {states}")


def wait_for_progress(listener: redis.client.PubSub, job_id: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.5)
        if message and message["type"] == "message":
            event = json.loads(message["data"])
            if event == {**event, "type": "job.progress", "job_id": job_id}:
                return
    raise TimeoutError(f"no progress from job {job_id}")


def submit_job(settings: Settings, **fields: object) -> int:
    data = {"prompt": "a red circle", "steps": 4, "width": 64, "height": 64, "seed": 7, **fields}
    with session_factory(settings.database_url)() as session:
        return submit(session, settings, data, source=JobSource.CLI).id


def test_worker_renders_a_submitted_job(worker: Process, registered: Settings) -> None:
    """A submitted job is rendered by the worker process and stored with its infotext."""
    job_id = submit_job(registered, count=2)
    job = wait_for_state(registered, job_id, {JobState.DONE, JobState.FAILED})
    assert job.state == JobState.DONE, job.error
    with session_factory(registered.database_url)() as session:
        images = session.query(Image).filter_by(job_id=job_id).order_by(Image.index).all()
    assert [image.seed for image in images] == [7, 8]
    png = registered.paths.images_dir / images[0].file_path
    assert PILImage.open(png).size == (64, 64)
    assert "Seed: 7" in (read_infotext(png) or "")
    assert (registered.paths.images_dir / images[0].thumbnail_path).is_file()


def test_sigkilled_worker_job_completes_exactly_once(registered: Settings, tmp_path: Path) -> None:
    """SIGKILL during a render, then a new worker: the job is done once, with one image set and one done event."""
    env = {"ATELIER_LEASE_SECONDS": "3", "ATELIER_SWEEP_INTERVAL_SECONDS": "1"}
    listener = redis.Redis.from_url(registered.redis_url).pubsub()
    listener.subscribe(ALL_EVENTS)
    first = start_worker(tmp_path / "first.log", env)
    job_id = submit_job(registered, steps=60, count=4)
    wait_for_progress(listener, job_id)
    first.kill()
    second = start_worker(tmp_path / "second.log", env)
    try:
        job = wait_for_state(registered, job_id, {JobState.DONE, JobState.FAILED}, timeout=300)
    finally:
        second.stop()
    assert job.state == JobState.DONE
    assert job.attempts == 2
    with session_factory(registered.database_url)() as session:
        assert [i.index for i in session.query(Image).filter_by(job_id=job_id).order_by(Image.index)] == [0, 1, 2, 3]
    done_events = []
    while (message := listener.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            event = json.loads(message["data"])
            if event["type"] == "job.done" and event["job_id"] == job_id:
                done_events.append(event)
    assert len(done_events) == 1
