"""A known set of jobs in every state, written straight to the database, for the operations tests
(`atelier status`, `/metrics`) to check their numbers against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from atelier.db import session_factory
from atelier.schema import Job, JobSource, JobState, ModelFile, ModelKind
from atelier.settings import Settings

RECIPE = {"prompt": "a red circle", "steps": 4, "width": 64, "height": 64, "seed": 1, "checkpoint": "tiny-test"}


@dataclass(frozen=True)
class Workload:
    oldest_queued_id: int
    oldest_queued_age: float


def seed_workload(settings: Settings) -> Workload:
    """3 queued (2 web, 1 discord; the oldest 120 s old), 1 running (cli), 2 done (web; 1.5 s and 2.5 s of
    rendering after waits of 10 s and 5 s), 1 failed (discord), 1 cancelled (web); all on `tiny-test`."""
    now = datetime.now(UTC)
    with session_factory(settings.database_url)() as session:
        checkpoint = session.scalar(
            select(ModelFile).where(ModelFile.kind == ModelKind.CHECKPOINT, ModelFile.name == "tiny-test")
        )
        assert checkpoint is not None

        def add(state: JobState, source: JobSource, age: float, **fields: object) -> Job:
            job = Job(
                source=source, recipe=RECIPE, checkpoint_id=checkpoint.id, state=state,
                created_at=now - timedelta(seconds=age), **fields,
            )  # fmt: skip
            session.add(job)
            session.flush()
            return job

        oldest = add(JobState.QUEUED, JobSource.WEB, 120)
        add(JobState.QUEUED, JobSource.WEB, 60)
        add(JobState.QUEUED, JobSource.DISCORD, 30)
        add(JobState.RUNNING, JobSource.CLI, 8, started_at=now - timedelta(seconds=5), lease_owner="elsewhere:1")
        for age, wait, seconds in ((40, 10, 1.5), (20, 5, 2.5)):
            add(
                JobState.DONE, JobSource.WEB, age, started_at=now - timedelta(seconds=age - wait),
                finished_at=now - timedelta(seconds=age - wait - seconds), render_seconds=seconds,
            )  # fmt: skip
        add(JobState.FAILED, JobSource.DISCORD, 50, error="boom", finished_at=now)
        add(JobState.CANCELLED, JobSource.WEB, 45, finished_at=now)
        session.commit()
        return Workload(oldest_queued_id=oldest.id, oldest_queued_age=120.0)
