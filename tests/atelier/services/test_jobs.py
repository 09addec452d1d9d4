"""Job services on real databases and real Redis: submit, claim, complete, fail, sweep."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from atelier.db import session_factory
from atelier.errors import Forbidden, InvalidInput, NotFound
from atelier.events import all_events_channel
from atelier.queue import SHARED_QUEUE
from atelier.schema import Image, Job, JobSource, JobState, ModelFile, ModelKind, Role, User
from atelier.services import jobs
from atelier.settings import RedisSettings, Settings
from tests.helpers.private_services import unreachable_redis

RECORD = jobs.ImageRecord(index=0, seed=1, file_path="ab/x.png", thumbnail_path="ab/x.webp", width=64, height=64,
                          infotext="x")  # fmt: skip


@pytest.fixture
def session(registered: Settings) -> Session:
    return session_factory(registered.database_url)()


@pytest.fixture
def broker(registered: Settings) -> redis.Redis:
    return redis.Redis.from_url(registered.redis_url)


def new_job(session: Session, settings: Settings, **fields: object) -> Job:
    return jobs.submit(session, settings, {"prompt": "a red circle", **fields}, source=JobSource.WEB)


def test_submit_writes_the_job_and_enqueues_only_its_id(session: Session, registered: Settings, broker) -> None:
    """A valid request becomes one queued job and one broker message carrying just the id."""
    job = new_job(session, registered)
    assert job.state == JobState.QUEUED and job.queue_position == 1 and job.eta_seconds
    assert job.recipe["checkpoint"] == "tiny-test" and job.recipe["width"] == 64
    messages = broker.lrange(SHARED_QUEUE, 0, -1)
    assert len(messages) == 1
    assert json.loads(base64.b64decode(json.loads(messages[0])["body"]))[0] == [job.id]


def test_submit_refuses_bad_input_without_writing(session: Session, registered: Settings, broker) -> None:
    """Bad input raises for the field and leaves no job and no message."""
    with pytest.raises(InvalidInput) as caught:
        new_job(session, registered, checkpoint="tiny-tset")
    assert caught.value.field == "checkpoint" and "tiny-test" in caught.value.reason
    assert session.scalar(select(Job.id)) is None
    assert broker.llen(SHARED_QUEUE) == 0


def test_submit_keeps_the_job_when_the_broker_is_down(session: Session, registered: Settings) -> None:
    """With Redis unreachable the job is still written, unenqueued, for the sweeper to send later."""
    broker_down = registered.model_copy(update={"redis": RedisSettings(redis_url="redis://127.0.0.1:1/0")})
    job = new_job(session, broker_down)
    assert job.state == JobState.QUEUED and job.enqueued_at is None


def test_queue_position_counts_the_jobs_ahead(session: Session, registered: Settings) -> None:
    """The third job submitted is third in line."""
    positions = [new_job(session, registered).queue_position for _ in range(3)]
    assert positions == [1, 2, 3]


def test_only_one_of_many_concurrent_claims_wins(registered: Settings) -> None:
    """Eight workers racing for one job: exactly one gets it."""
    sessions = session_factory(registered.database_url)
    with sessions() as session:
        job_id = new_job(session, registered).id
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def race(name: str) -> None:
        with sessions() as own:
            barrier.wait()
            if jobs.claim(own, job_id, name, 60) is not None:
                winners.append(name)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_complete_is_idempotent(session: Session, registered: Settings, broker) -> None:
    """A second completion (a redelivered message) changes nothing and publishes nothing."""
    job = new_job(session, registered)
    assert jobs.claim(session, job.id, "w1", 60)
    listener = broker.pubsub()
    listener.subscribe(all_events_channel(registered.redis_url))
    assert jobs.complete(session, broker, job.id, "w1", [RECORD]) is True
    assert jobs.complete(session, broker, job.id, "w1", [RECORD]) is False
    assert jobs.claim(session, job.id, "w2", 60) is None
    assert session.query(Image).filter_by(job_id=job.id).count() == 1
    events = [m for m in iter(lambda: listener.get_message(timeout=0.3), None) if m["type"] == "message"]
    assert [json.loads(m["data"])["type"] for m in events] == ["job.done"]


def test_complete_holds_when_redis_is_down(session: Session, registered: Settings) -> None:
    """The images are recorded and the job is done even though its `job.done` event cannot be sent: a
    render that succeeded is never counted as a failed attempt because of Redis."""
    job = new_job(session, registered)
    assert jobs.claim(session, job.id, "w1", 60)
    assert jobs.complete(session, unreachable_redis(), job.id, "w1", [RECORD]) is True
    session.refresh(job)
    assert job.state == JobState.DONE and session.query(Image).filter_by(job_id=job.id).count() == 1


def test_a_failure_with_redis_down_leaves_the_job_for_the_sweeper(session: Session, registered: Settings) -> None:
    """A failed attempt is queued again; with no broker to take the message it is marked unsent, so the
    sweeper sends it once Redis is back."""
    job = new_job(session, registered)
    assert jobs.claim(session, job.id, "w1", 60)
    state = jobs.fail(session, unreachable_redis(), job.id, "w1", "RuntimeError: boom", registered.render.max_attempts)
    assert state == JobState.QUEUED
    session.refresh(job)
    assert job.state == JobState.QUEUED and job.enqueued_at is None


def test_failure_requeues_until_attempts_run_out(session: Session, registered: Settings, broker) -> None:
    """A failing render is retried, then marked failed with its reason."""
    job = new_job(session, registered)
    states = []
    for attempt in range(registered.render.max_attempts):
        assert jobs.claim(session, job.id, f"w{attempt}", 60)
        states.append(jobs.fail(session, broker, job.id, f"w{attempt}", "RuntimeError: out of memory",
                                registered.render.max_attempts))  # fmt: skip
    assert states == [JobState.QUEUED, JobState.QUEUED, JobState.FAILED]
    session.refresh(job)
    assert job.error == "RuntimeError: out of memory"


def _expire_lease(session: Session, job_id: int) -> None:
    past = datetime.now(UTC) - timedelta(seconds=5)
    session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=past))
    session.commit()


def test_sweeper_requeues_a_job_whose_worker_died(session: Session, registered: Settings, broker) -> None:
    """A running job past its lease goes back to the queue with a fresh message."""
    job = new_job(session, registered)
    jobs.claim(session, job.id, "dead-worker", 60)
    _expire_lease(session, job.id)
    broker.delete(SHARED_QUEUE)
    report = jobs.sweep(session, broker, registered, stale_after=3600)
    assert report.requeued == [job.id]
    assert broker.llen(SHARED_QUEUE) == 1
    assert jobs.complete(session, broker, job.id, "dead-worker", [RECORD]) is False


def test_sweeper_fails_a_job_out_of_attempts(session: Session, registered: Settings, broker) -> None:
    """A job whose worker died on every attempt is failed with a reason, not retried forever."""
    job = new_job(session, registered)
    for attempt in range(registered.render.max_attempts):
        jobs.claim(session, job.id, f"w{attempt}", 60)
        _expire_lease(session, job.id)
        if attempt < registered.render.max_attempts - 1:
            jobs.sweep(session, broker, registered, stale_after=3600)
    report = jobs.sweep(session, broker, registered, stale_after=3600)
    assert report.failed == [job.id]
    session.refresh(job)
    assert job.state == JobState.FAILED and "stopped responding" in (job.error or "")


def test_sweeper_sends_jobs_the_broker_never_got(session: Session, registered: Settings, broker) -> None:
    """A queued job with no message (broker was down at submit) is enqueued by the sweeper."""
    job = new_job(session, registered)
    session.execute(update(Job).where(Job.id == job.id).values(enqueued_at=None))
    session.commit()
    broker.delete(SHARED_QUEUE)
    assert jobs.sweep(session, broker, registered, stale_after=3600).requeued == [job.id]
    assert broker.llen(SHARED_QUEUE) == 1


def test_delivery_is_recorded_once(session: Session, registered: Settings) -> None:
    """The first result message for a job is kept; a second delivery attempt is refused."""
    job = new_job(session, registered)
    assert jobs.record_delivery(session, job.id, 111) is True
    assert jobs.record_delivery(session, job.id, 222) is False
    session.refresh(job)
    assert job.discord_message_id == 111


def test_lora_for_another_architecture_is_refused(session: Session, registered: Settings, broker) -> None:
    """An SDXL LoRA named in a prompt for an SD1 checkpoint is refused before anything is queued."""
    session.add(ModelFile(kind=ModelKind.LORA, name="xl-style", file_path="loras/xl-style.safetensors",
                          sha256="0" * 64, autov2="0" * 10, autov3="0" * 12, base_arch="sdxl"))  # fmt: skip
    session.commit()
    with pytest.raises(InvalidInput, match=r"xl-style.*sdxl"):
        new_job(session, registered, prompt="<lora:xl-style:1> a red circle")
    assert broker.llen(SHARED_QUEUE) == 0


def owned_job(session: Session, settings: Settings) -> tuple[Job, User]:
    owner = User(name="owner")
    session.add(owner)
    session.commit()
    job = jobs.submit(session, settings, {"prompt": "a red circle"}, source=JobSource.WEB, owner_id=owner.id)
    return job, owner


def test_owner_cancels_a_queued_job(session: Session, registered: Settings, broker: redis.Redis) -> None:
    """Cancelling marks the job cancelled, raises the flag workers check and announces it."""
    job, owner = owned_job(session, registered)
    listener = broker.pubsub()
    listener.subscribe(all_events_channel(registered.redis_url))
    listener.get_message(timeout=1)
    cancelled = jobs.cancel(session, broker, job.id, jobs.Actor.of(owner))
    assert cancelled.state == JobState.CANCELLED and cancelled.finished_at is not None
    assert jobs.cancel_requested(broker, job.id)
    message = listener.get_message(timeout=2)
    assert message is not None and json.loads(message["data"])["type"] == "job.cancelled"


def test_a_running_job_cancelled_cannot_complete(session: Session, registered: Settings, broker: redis.Redis) -> None:
    """The worker still rendering it can no longer record images for it."""
    job, owner = owned_job(session, registered)
    assert jobs.claim(session, job.id, "w1", 60)
    jobs.cancel(session, broker, job.id, jobs.Actor.of(owner))
    assert jobs.complete(session, broker, job.id, "w1", [RECORD]) is False
    assert jobs.renew_lease(session, job.id, "w1", 60, 3) is False


def test_only_owner_or_moderator_cancels(session: Session, registered: Settings, broker: redis.Redis) -> None:
    """Another member is refused; a moderator is not."""
    job, _ = owned_job(session, registered)
    stranger, moderator = User(name="stranger"), User(name="mod", role=Role.MODERATOR)
    session.add_all([stranger, moderator])
    session.commit()
    with pytest.raises(Forbidden, match="only its owner or a moderator"):
        jobs.cancel(session, broker, job.id, jobs.Actor.of(stranger))
    assert session.get(Job, job.id).state == JobState.QUEUED  # type: ignore[union-attr]
    assert jobs.cancel(session, broker, job.id, jobs.Actor.of(moderator)).state == JobState.CANCELLED


def test_finished_job_cannot_be_cancelled(session: Session, registered: Settings, broker: redis.Redis) -> None:
    job, owner = owned_job(session, registered)
    assert jobs.claim(session, job.id, "w1", 60)
    assert jobs.complete(session, broker, job.id, "w1", [RECORD])
    with pytest.raises(InvalidInput, match="already done"):
        jobs.cancel(session, broker, job.id, jobs.Actor.of(owner))


def test_img2img_from_a_gallery_id_stores_the_file_address(session: Session, registered: Settings) -> None:
    """`init_image` by gallery id becomes the stored file's content address at submit."""
    job, _ = owned_job(session, registered)
    folder = registered.paths.images_dir / "ab"
    folder.mkdir(parents=True)
    address = "ab/" + "c" * 64 + ".png"
    (registered.paths.images_dir / address).write_bytes(b"png")
    image = Image(job_id=job.id, index=0, seed=1, file_path=address, thumbnail_path="ab/t.webp", width=64,
                  height=64, infotext="x")  # fmt: skip
    session.add(image)
    session.commit()
    remix = new_job(session, registered, init_image=str(image.id), denoising_strength=0.5)
    assert remix.recipe["init_image"] == address


def test_img2img_from_a_missing_image_is_refused(session: Session, registered: Settings) -> None:
    with pytest.raises(InvalidInput) as caught:
        new_job(session, registered, init_image="999", denoising_strength=0.5)
    assert caught.value.field == "init_image" and "999" in caught.value.reason


def test_exact_rerender_takes_the_image_recipe_and_seed(session: Session, registered: Settings) -> None:
    """Image 2 of a batch re-renders alone, with its own seed, and remembers where it came from."""
    job = new_job(session, registered, count=2, seed=40)
    assert jobs.claim(session, job.id, "w1", 60)
    second = replace(RECORD, index=1, seed=41)
    assert jobs.complete(session, redis.Redis.from_url(registered.redis_url), job.id, "w1", [RECORD, second])
    image = session.scalars(select(Image).where(Image.job_id == job.id, Image.index == 1)).one()
    again = jobs.rerender_exact(session, registered, image.id, source=JobSource.WEB)
    assert (again.recipe["seed"], again.recipe["count"]) == (41, 1)
    assert again.parent_image_id == again.exact_of_image_id == image.id


def test_exact_rerender_of_a_hidden_image_is_not_found(session: Session, registered: Settings) -> None:
    job = new_job(session, registered)
    assert jobs.claim(session, job.id, "w1", 60)
    assert jobs.complete(session, redis.Redis.from_url(registered.redis_url), job.id, "w1", [RECORD])
    image = session.scalars(select(Image).where(Image.job_id == job.id)).one()
    image.hidden = True
    session.commit()
    with pytest.raises(NotFound):
        jobs.rerender_exact(session, registered, image.id, source=JobSource.WEB)


def settle(session: Session, seconds: float = 10) -> None:
    """Make every waiting job look enqueued `seconds` ago (past the enqueue settle time)."""
    session.execute(update(Job).values(enqueued_at=datetime.now(UTC) - timedelta(seconds=seconds)))
    session.commit()


def test_sweeper_refills_a_broker_that_lost_its_messages(session: Session, registered: Settings, broker) -> None:
    """Redis restarted empty: the waiting jobs are enqueued again at once, not after `stale_after`."""
    ids = [new_job(session, registered).id for _ in range(3)]
    settle(session)
    broker.delete(SHARED_QUEUE)
    assert sorted(jobs.sweep(session, broker, registered, stale_after=3600).requeued) == ids
    assert broker.llen(SHARED_QUEUE) == 3


def test_sweeper_leaves_a_full_broker_alone(session: Session, registered: Settings, broker) -> None:
    for _ in range(3):
        new_job(session, registered)
    settle(session)
    assert jobs.sweep(session, broker, registered, stale_after=3600).requeued == []
    assert broker.llen(SHARED_QUEUE) == 3
