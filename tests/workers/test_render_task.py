"""The render path through a real worker process and the real broker."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
from PIL import Image as PILImage

from atelier.db import session_factory
from atelier.events import all_events_channel
from atelier.schema import Image, Job, JobSource, JobState
from atelier.services import jobs
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
    listener.subscribe(all_events_channel(registered.redis_url))
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


def first_event(listener: redis.client.PubSub, job_id: int, kind: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.5)
        if message and message["type"] == "message":
            event = json.loads(message["data"])
            if event["type"] == kind and event["job_id"] == job_id:
                return dict(event)
    raise TimeoutError(f"no {kind} for job {job_id}")


def images_of(settings: Settings, job_id: int) -> list[Image]:
    with session_factory(settings.database_url)() as session:
        return session.query(Image).filter_by(job_id=job_id).order_by(Image.index).all()


def test_img2img_upscales_a_gallery_image(worker: Process, registered: Settings) -> None:
    """A finished image, named by its gallery id, is the source of an img2img job at twice its size."""
    parent = submit_job(registered)
    assert wait_for_state(registered, parent, {JobState.DONE, JobState.FAILED}).state == JobState.DONE
    (source,) = images_of(registered, parent)
    child = submit_job(registered, init_image=str(source.id), denoising_strength=0.4, width=128, height=128)
    job = wait_for_state(registered, child, {JobState.DONE, JobState.FAILED})
    assert job.state == JobState.DONE, job.error
    (image,) = images_of(registered, child)
    assert (image.width, image.height) == (128, 128)
    assert "Denoising strength: 0.4" in image.infotext


def test_hires_fix_job(worker: Process, registered: Settings) -> None:
    """Hires fix renders at the upscaled size and says so in the infotext."""
    job_id = submit_job(registered, hires=True, hires_scale=2, hires_denoise=0.5)
    job = wait_for_state(registered, job_id, {JobState.DONE, JobState.FAILED})
    assert job.state == JobState.DONE, job.error
    (image,) = images_of(registered, job_id)
    assert (image.width, image.height) == (128, 128)
    assert "Hires upscale: 2" in image.infotext


def test_progress_carries_a_preview(worker: Process, registered: Settings) -> None:
    """The first progress event of a render brings a small WebP preview."""
    listener = redis.Redis.from_url(registered.redis_url).pubsub()
    listener.subscribe(all_events_channel(registered.redis_url))
    job_id = submit_job(registered, steps=20)
    event = first_event(listener, job_id, "job.progress")
    assert str(event["preview"]).startswith("data:image/webp;base64,")


def test_cancel_stops_a_running_render(worker: Process, registered: Settings) -> None:
    """Cancelled mid-render, the job ends cancelled with no images, and the worker takes the next job."""
    listener = redis.Redis.from_url(registered.redis_url).pubsub()
    listener.subscribe(all_events_channel(registered.redis_url))
    long_job = submit_job(registered, steps=150, count=4)
    first_event(listener, long_job, "job.progress")
    with session_factory(registered.database_url)() as session:
        jobs.cancel(session, redis.Redis.from_url(registered.redis_url), long_job, jobs.OPERATOR)
    worker.wait_for_log(f"job {long_job}: stopped: cancelled", timeout=30)
    job = wait_for_state(registered, long_job, {JobState.CANCELLED})
    assert job.progress_step < 150 and images_of(registered, long_job) == []
    next_job = submit_job(registered)
    assert wait_for_state(registered, next_job, {JobState.DONE, JobState.FAILED}).state == JobState.DONE


def test_waiting_compatible_jobs_render_in_one_batch(worker: Process, registered: Settings) -> None:
    """Three members' compatible jobs that queued while the worker was busy share one sampler call."""
    listener = redis.Redis.from_url(registered.redis_url).pubsub()
    listener.subscribe(all_events_channel(registered.redis_url))
    busy = submit_job(registered, steps=150, count=4)
    first_event(listener, busy, "job.progress")
    waiting = [submit_job(registered, seed=seed, prompt=f"a circle number {seed}") for seed in (1, 2, 3)]
    for job_id in waiting:
        assert wait_for_state(registered, job_id, {JobState.DONE, JobState.FAILED}).state == JobState.DONE
    worker.wait_for_log(f"batch of 3 jobs ({', '.join(map(str, waiting))}): done", timeout=5)
    assert [len(images_of(registered, job_id)) for job_id in waiting] == [1, 1, 1]


def test_exact_rerender_matches_the_stored_image(worker: Process, registered: Settings) -> None:
    """The same recipe and seed on the same hardware give the same pixels, and the job records it."""
    original = submit_job(registered, count=2, sampler="Euler a")
    assert wait_for_state(registered, original, {JobState.DONE, JobState.FAILED}).state == JobState.DONE
    second = images_of(registered, original)[1]
    with session_factory(registered.database_url)() as session:
        again = jobs.rerender_exact(session, registered, second.id, source=JobSource.WEB).id
    job = wait_for_state(registered, again, {JobState.DONE, JobState.FAILED})
    assert (job.state, job.exact_match, job.exact_of_image_id) == (JobState.DONE, True, second.id)
    (image,) = images_of(registered, again)
    assert image.seed == second.seed and image.file_path == second.file_path  # content-addressed: same bytes
