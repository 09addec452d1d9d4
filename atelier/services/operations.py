"""What an operator asks of a running install: how deep the queues are, which workers are alive and
what they hold warm, how many jobs are in each state, how long renders take and how long jobs wait.

Everything is read from the database (the record of truth, right across processes) and from Redis
(broker queue lengths, worker heartbeats); `atelier status` and the gallery's `/metrics` both use it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atelier.queue import MODEL_QUEUE_PREFIX, SHARED_QUEUE, live_workers, model_queue
from atelier.schema import Job, JobSource, JobState, ModelFile

NO_CHECKPOINT = "(none)"
# kombu's Redis transport keeps a queue's messages of priority 3, 6 and 9 in lists named `<queue>\x06\x16<n>`.
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
KOMBU_PRIORITIES = (3, 6, 9)
QUEUE_WAIT_WINDOW = timedelta(hours=1)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; all of ours are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def jobs_by_state(session: Session) -> dict[str, int]:
    """Every state, zero included."""
    counts = dict.fromkeys((state.value for state in JobState), 0)
    for state, count in session.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[JobState(state).value] = int(count)
    return counts


def jobs_by_state_and_source(session: Session) -> dict[tuple[str, str], int]:
    """Every (state, source) pair, zero included, so a counter exists before its first job."""
    counts = {(state.value, source.value): 0 for state in JobState for source in JobSource}
    query = select(Job.state, Job.source, func.count()).group_by(Job.state, Job.source)
    for state, source, count in session.execute(query):
        counts[(JobState(state).value, JobSource(source).value)] = int(count)
    return counts


def queued_by_checkpoint(session: Session) -> dict[str, int]:
    query = (
        select(func.coalesce(ModelFile.name, NO_CHECKPOINT), func.count())
        .select_from(Job)
        .outerjoin(ModelFile, ModelFile.id == Job.checkpoint_id)
        .where(Job.state == JobState.QUEUED)
        .group_by(ModelFile.name)
    )
    return {str(name): int(count) for name, count in session.execute(query)}


@dataclass(frozen=True)
class OldestQueued:
    job_id: int
    age_seconds: float


def oldest_queued(session: Session, now: datetime | None = None) -> OldestQueued | None:
    row = session.execute(
        select(Job.id, Job.created_at).where(Job.state == JobState.QUEUED).order_by(Job.created_at, Job.id).limit(1)
    ).first()
    if row is None:
        return None
    now = now or datetime.now(UTC)
    return OldestQueued(job_id=int(row[0]), age_seconds=max(0.0, (now - _aware(row[1])).total_seconds()))


@dataclass(frozen=True)
class RenderTotals:
    count: int
    seconds: float


def render_seconds_by_checkpoint(session: Session) -> dict[str, RenderTotals]:
    """Done jobs with a measured render time, per checkpoint: count and total seconds."""
    query = (
        select(func.coalesce(ModelFile.name, NO_CHECKPOINT), func.count(), func.sum(Job.render_seconds))
        .select_from(Job)
        .outerjoin(ModelFile, ModelFile.id == Job.checkpoint_id)
        .where(Job.state == JobState.DONE, Job.render_seconds.is_not(None))
        .group_by(ModelFile.name)
    )
    return {str(name): RenderTotals(int(count), float(total or 0.0)) for name, count, total in session.execute(query)}


def recent_queue_waits(session: Session, window: timedelta = QUEUE_WAIT_WINDOW) -> list[float]:
    """Seconds from submit to the (latest) start, for jobs started within `window`, oldest first."""
    since = datetime.now(UTC) - window
    rows = session.execute(
        select(Job.created_at, Job.started_at)
        .where(Job.started_at.is_not(None), Job.started_at >= since)
        .order_by(Job.started_at)
    )
    return [max(0.0, (_aware(started) - _aware(created)).total_seconds()) for created, started in rows if started]


def _queue_length(client: redis.Redis, name: str) -> int:
    names = [name, *(f"{name}{KOMBU_PRIORITY_SEPARATOR}{n}" for n in KOMBU_PRIORITIES)]
    pipe = client.pipeline()
    for key in names:
        pipe.llen(key)
    return sum(int(length) for length in pipe.execute())


def broker_queue_lengths(client: redis.Redis, checkpoints: set[str] | None = None) -> dict[str, int]:
    """Messages waiting in the shared queue and in every model queue that exists or is named."""
    names = {SHARED_QUEUE, *(model_queue(name) for name in checkpoints or ())}
    for key in client.scan_iter(match=f"{MODEL_QUEUE_PREFIX}*", count=100):
        text = key.decode() if isinstance(key, bytes) else str(key)
        names.add(text.split(KOMBU_PRIORITY_SEPARATOR, 1)[0])
    return {name: _queue_length(client, name) for name in sorted(names)}


@dataclass
class Status:
    jobs: dict[str, int]
    queued_by_checkpoint: dict[str, int]
    oldest_queued: OldestQueued | None
    broker_queues: dict[str, int] | None = None
    workers: dict[str, list[str]] | None = None
    redis_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def gather_status(session: Session, client: redis.Redis) -> Status:
    """The database's numbers always; Redis's when it answers (else `redis_error` names what failed)."""
    status = Status(
        jobs=jobs_by_state(session),
        queued_by_checkpoint=queued_by_checkpoint(session),
        oldest_queued=oldest_queued(session),
    )
    try:
        status.workers = live_workers(client)
        warm = {name for held in status.workers.values() for name in held}
        status.broker_queues = broker_queue_lengths(client, warm | set(status.queued_by_checkpoint) - {NO_CHECKPOINT})
    except (redis.RedisError, OSError) as error:
        status.redis_error = type(error).__name__
    return status
