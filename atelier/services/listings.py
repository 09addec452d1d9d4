"""Read-only views the chat front ends show: a member's jobs in line, the model catalogue, and the
gallery image behind a message.

They live in atelier rather than in the bot because they are questions about the queue and the
registry (fair order, ETAs, warm models) whose answers must match what the scheduler does; the bot
only formats them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier import events
from atelier.queue import live_workers
from atelier.schema import Image, Job, JobState, ModelFile, ModelKind
from atelier.services import jobs
from atelier.settings import Settings


@dataclass(frozen=True)
class JobStanding:
    """One of a member's unfinished jobs: where it stands and when it should be done."""

    job_id: int
    state: JobState
    prompt: str
    position: int | None
    """In the fair order (1 = next to start); None while rendering."""
    eta_seconds: float | None
    step: int = 0
    total: int = 0


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: ModelKind
    base_arch: str
    native_size: int
    trigger_words: list[str] = field(default_factory=list)
    warm: bool = False
    default: bool = False


def warm_checkpoints(settings: Settings) -> set[str]:
    """Checkpoint names some live worker holds loaded; empty when Redis cannot say."""
    try:
        workers = live_workers(events.shared_client(settings.redis_url))
    except redis.RedisError:
        return set()
    return {name for names in workers.values() for name in names}


def member_jobs(session: Session, settings: Settings, owner_id: int) -> list[JobStanding]:
    """The member's waiting and running jobs, oldest first, with fair-order positions and ETAs."""
    query = (
        select(Job).where(Job.owner_id == owner_id, Job.state.in_([JobState.QUEUED, JobState.RUNNING])).order_by(Job.id)
    )
    found = []
    for job in session.scalars(query):
        prompt = str(job.recipe.get("prompt", "")) if isinstance(job.recipe, dict) else ""
        if job.state == JobState.RUNNING:
            left = jobs.expected_seconds(session, job) * (1 - job.progress_step / max(job.progress_total, 1))
            found.append(
                JobStanding(job.id, job.state, prompt, None, max(left, 0.0), job.progress_step, job.progress_total)
            )
            continue
        position, eta = jobs.queue_estimate(session, job, settings)
        found.append(JobStanding(job.id, job.state, prompt, position, eta, 0, job.progress_total))
    return found


def catalogue(session: Session, warm: set[str]) -> list[ModelEntry]:
    """Enabled checkpoints then LoRAs, each by name, with what a member needs to use them."""
    kinds = (ModelKind.CHECKPOINT, ModelKind.LORA)
    query = select(ModelFile).where(ModelFile.enabled.is_(True), ModelFile.kind.in_(kinds))
    rows = sorted(session.scalars(query), key=lambda m: (m.kind != ModelKind.CHECKPOINT, m.name.lower()))
    return [
        ModelEntry(
            m.name,
            m.kind,
            m.base_arch,
            m.native_size,
            list(m.trigger_words or []),
            m.kind == ModelKind.CHECKPOINT and m.name in warm,
            m.is_default,
        )
        for m in rows
    ]


def image_of_message(session: Session, message_id: int) -> Image | None:
    """The first visible image of the job whose result a chat message carries."""
    job_id = session.scalar(select(Job.id).where(Job.discord_message_id == message_id))
    if job_id is None:
        return None
    query = select(Image).where(Image.job_id == job_id, Image.hidden.is_(False)).order_by(Image.index)
    return session.scalars(query).first()


def image_of_file(session: Session, file_path: str) -> Image | None:
    """A visible gallery image by its content address (images are stored under their sha256)."""
    query = select(Image).where(Image.file_path == file_path, Image.hidden.is_(False)).order_by(Image.id)
    return session.scalars(query).first()
