"""The life of a job: submit, claim, progress, complete, fail, and the sweeper that recovers lost ones.

The database decides who runs a job. A claim is one conditional UPDATE (queued, or running with a
lapsed lease), so two workers never both hold a job; completion is conditional on still holding
it, so a redelivered or duplicated message for a finished job changes nothing. The broker may lose
or repeat messages; the sweeper re-enqueues what it lost, and claims absorb what it repeats.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from atelier import events
from atelier.errors import Forbidden, InvalidInput, NotFound
from atelier.prompt import ParsedPrompt, check_prompt
from atelier.queue import RENDER_TASK, broker_backlog, celery_app, live_workers, queue_for
from atelier.recipe import EmbeddingUse, LoraUse, Recipe, checkpoint_name, parse_recipe
from atelier.render_plan import total_steps, work_units
from atelier.schema import Image, Job, JobSource, JobState, ModelFile, ModelKind, Role, User
from atelier.services import policy, scheduling
from atelier.services.models import resolve_checkpoint
from atelier.settings import Settings, get_settings

log = logging.getLogger(__name__)

CANCEL_KEY_PREFIX = "atelier:cancel:"
CANCEL_FLAG_SECONDS = 24 * 3600


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; all of ours are UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@dataclass(frozen=True)
class ImageRecord:
    """What a worker made for one image of a job, ready to be recorded."""

    index: int
    seed: int
    file_path: str
    thumbnail_path: str
    width: int
    height: int
    infotext: str


def enqueue(job: Job, client: redis.Redis, settings: Settings | None = None) -> None:
    """Hand the job id to the broker; on failure the job stays queued and the sweeper retries."""
    checkpoint = str(job.recipe.get("checkpoint", ""))
    celery_app(settings).send_task(RENDER_TASK, args=[job.id], queue=queue_for(client, checkpoint))


def submit(
    session: Session,
    settings: Settings,
    data: Mapping[str, Any],
    *,
    source: JobSource,
    owner_id: int | None = None,
    parent_image_id: int | None = None,
    discord_channel_id: int | None = None,
    discord_message_id: int | None = None,
    exact_of_image_id: int | None = None,
) -> Job:
    """The one way to create a job: apply the studio's policies, validate, write, commit, then enqueue the id."""
    data = policy.with_policies(session, data)
    checkpoint = resolve_checkpoint(session, checkpoint_name(data))
    recipe = parse_recipe(data, default_size=checkpoint.native_size)
    recipe = Recipe.from_json({**recipe.to_json(), "checkpoint": checkpoint.name})
    positive = check_prompt(session, recipe.prompt, "prompt", steps=recipe.steps)
    negative = check_prompt(session, recipe.negative_prompt, "negative_prompt", steps=recipe.steps)
    recipe = with_networks(session, recipe, positive, negative)
    recipe = with_init_image_file(session, settings, recipe)
    refuse_mismatched_loras(session, recipe, checkpoint)
    scheduling.admit(session, settings, owner_id, recipe, checkpoint)
    job = Job(
        owner_id=owner_id,
        source=source,
        recipe=recipe.to_json(),
        checkpoint_id=checkpoint.id,
        state=JobState.QUEUED,
        progress_total=total_steps(recipe),
        work_units=work_units(recipe, checkpoint.native_size),
        parent_image_id=parent_image_id,
        exact_of_image_id=exact_of_image_id,
        discord_channel_id=discord_channel_id,
        discord_message_id=discord_message_id,
    )
    session.add(job)
    session.commit()
    try:
        enqueue(job, events.shared_client(settings.redis_url), settings)
    except Exception:  # broker down: the job is safe in the database; the sweeper enqueues it later
        log.exception("job %s: enqueue failed; the sweeper will retry", job.id, extra={"job_id": job.id})
    else:
        job.enqueued_at = _now()
    job.queue_position, job.eta_seconds = queue_estimate(session, job, settings)
    session.commit()
    return job


def rerender_exact(
    session: Session,
    settings: Settings,
    image_id: int,
    *,
    source: JobSource,
    owner_id: int | None = None,
    discord_channel_id: int | None = None,
) -> Job:
    """Render a stored image again from its recorded recipe and seed; the worker records whether the new
    pixels equal the stored ones (`Job.exact_match`), which is how a community checks its recipes hold."""
    image = session.get(Image, image_id)
    if image is None or image.hidden:
        raise NotFound(f"image {image_id} does not exist")
    recipe = {**image.job.recipe, "seed": image.seed, "count": 1}
    return submit(
        session, settings, recipe, source=source, owner_id=owner_id, parent_image_id=image.id,
        exact_of_image_id=image.id, discord_channel_id=discord_channel_id,
    )  # fmt: skip


def with_networks(session: Session, recipe: Recipe, *parsed: ParsedPrompt) -> Recipe:
    """The recipe with the LoRAs and embeddings its prompts use, weights from the tags and hashes from the
    registry, so infotext can name them as A1111 does ("Lora hashes", "TI hashes")."""
    kinds = (ModelKind.LORA, ModelKind.EMBEDDING)
    rows = {(m.kind, m.name): m for m in session.scalars(select(ModelFile).where(ModelFile.kind.in_(kinds)))}
    loras = [
        LoraUse(ref.name, ref.te_weight, None if ref.unet_weight == ref.te_weight else ref.unet_weight,
                _short_hash(rows.get((ModelKind.LORA, ref.name)), lora=True))
        for prompt in parsed for ref in prompt.networks
    ]  # fmt: skip
    names = dict.fromkeys(name for prompt in parsed for name in prompt.embeddings)
    embeddings = [EmbeddingUse(name, _short_hash(rows.get((ModelKind.EMBEDDING, name)), lora=False)) for name in names]
    return replace(recipe, loras=tuple(loras), embeddings=tuple(embeddings))


def with_init_image_file(session: Session, settings: Settings, recipe: Recipe) -> Recipe:
    """img2img from a gallery image: the recipe names its stored file (content address), checked to exist now,
    so the worker never looks anything up and a missing image is refused before queueing."""
    if not recipe.init_image:
        return recipe
    address = recipe.init_image
    if address.isdigit():
        image = session.get(Image, int(address))
        if image is None or image.hidden:
            raise InvalidInput("init_image", f"gallery image {address} does not exist")
        address = image.file_path
    if not (settings.paths.images_dir / address).is_file():
        raise InvalidInput("init_image", f"no stored image {address}")
    return replace(recipe, init_image=address)


def refuse_mismatched_loras(session: Session, recipe: Recipe, checkpoint: ModelFile) -> None:
    """An SD1.5 LoRA on an SDXL checkpoint (or the reverse) cannot load: say so before queueing."""
    names = [lora.name for lora in recipe.loras]
    if not names:
        return
    query = select(ModelFile).where(ModelFile.kind == ModelKind.LORA, ModelFile.name.in_(names))
    for lora in session.scalars(query):
        if lora.base_arch != checkpoint.base_arch:
            raise InvalidInput(
                "prompt",
                f"LoRA {lora.name!r} is for {lora.base_arch} models but {checkpoint.name!r} is {checkpoint.base_arch}",
            )


def _short_hash(model: ModelFile | None, *, lora: bool) -> str:
    """LoRAs: AutoV3 (tensor data only); embeddings: the file's sha256; both 12 hex, as A1111 shows them."""
    if model is None:
        return ""
    return (model.autov3 or "") if lora else model.sha256[:12]


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    return job


def live_worker_count(settings: Settings) -> int:
    """Workers rendering in parallel, from their heartbeats; 1 when none is seen (one will start)."""
    try:
        return max(1, len(live_workers(events.shared_client(settings.redis_url))))
    except redis.RedisError:
        return 1


def queue_estimate(session: Session, job: Job, settings: Settings | None = None) -> tuple[int, float]:
    """Position (1 = next to start) in the fair order and seconds until this job should be done."""
    chosen = settings or get_settings()
    place = scheduling.standing(session, chosen, job, live_worker_count(chosen))
    return place.position, place.eta_seconds


def expected_seconds(session: Session, job: Job) -> float:
    """How long the job's render should take, from its checkpoint's measured pace."""
    return scheduling.estimated_seconds(session, job)


def claim(session: Session, job_id: int, worker: str, lease_seconds: float) -> Job | None:
    """Take the job if nobody holds it; None when it is finished or held by a live worker."""
    now = _now()
    claimable = or_(
        Job.state == JobState.QUEUED,
        (Job.state == JobState.RUNNING) & (Job.lease_expires_at < now),
    )
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, claimable)
        .values(
            state=JobState.RUNNING,
            attempts=Job.attempts + 1,
            lease_owner=worker,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=now,
            progress_step=0,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    job = session.get(Job, job_id, populate_existing=True)
    assert job is not None
    return job


def renew_lease(session: Session, job_id: int, worker: str, lease_seconds: float, step: int) -> bool:
    """Extend the lease and record progress; False if the job was taken away or cancelled."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == worker, Job.state == JobState.RUNNING)
        .values(lease_expires_at=_now() + timedelta(seconds=lease_seconds), progress_step=step)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def complete(
    session: Session,
    client: redis.Redis,
    job_id: int,
    worker: str,
    images: Sequence[ImageRecord],
    render_seconds: float | None = None,
    exact_match: bool | None = None,
) -> bool:
    """Record the images and mark the job done, once; False (and no change) if we no longer hold it."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == worker, Job.state == JobState.RUNNING)
        .values(
            state=JobState.DONE,
            finished_at=_now(),
            lease_expires_at=None,
            error=None,
            render_seconds=render_seconds,
            exact_match=exact_match,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    # A checkpoint that may render NSFW marks its images so (the gallery blurs them, the bot spoilers them).
    nsfw = bool(
        session.scalar(
            select(ModelFile.nsfw_allowed).join(Job, Job.checkpoint_id == ModelFile.id).where(Job.id == job_id)
        )
    )
    for record in images:
        session.add(Image(job_id=job_id, nsfw=nsfw, **record.__dict__))
    session.commit()
    image_ids = list(session.scalars(select(Image.id).where(Image.job_id == job_id).order_by(Image.index)))
    events.publish(client, "done", job_id, image_ids=image_ids)
    return True


def fail(
    session: Session, client: redis.Redis, job_id: int, worker: str, reason: str, max_attempts: int
) -> JobState | None:
    """A render raised: requeue while attempts remain, else mark failed with the reason."""
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.lease_owner != worker or job.state != JobState.RUNNING:
        return None
    if job.attempts < max_attempts:
        job.state, job.lease_owner, job.lease_expires_at = JobState.QUEUED, None, None
        job.error, job.enqueued_at = reason, None
        session.commit()
        _send_again(session, client, job)
        return JobState.QUEUED
    job.state, job.error, job.finished_at, job.lease_expires_at = JobState.FAILED, reason, _now(), None
    session.commit()
    events.publish(client, "failed", job_id, error=reason)
    return JobState.FAILED


def release(session: Session, client: redis.Redis, job_id: int, worker: str, settings: Settings | None = None) -> bool:
    """Give a job back unfinished (the worker is shutting down): queued again at once, the attempt not
    counted, a fresh message sent so another worker starts it now; False if we no longer held it."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == worker, Job.state == JobState.RUNNING)
        .values(
            state=JobState.QUEUED,
            attempts=Job.attempts - 1,
            lease_owner=None,
            lease_expires_at=None,
            progress_step=0,
            started_at=None,
            enqueued_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    job = get_job(session, job_id)
    session.refresh(job)
    _send_again(session, client, job, settings)
    events.publish(client, "queued", job_id)
    return True


def _send_again(session: Session, client: redis.Redis, job: Job, settings: Settings | None = None) -> None:
    """A fresh broker message for a job put back in the queue. Redis being down loses nothing: the job
    keeps `enqueued_at` empty, and the sweeper sends it once the broker is back."""
    try:
        enqueue(job, client, settings)
    except Exception:
        log.exception("job %s: back in the queue; enqueue failed, the sweeper will retry", job.id,
                      extra={"job_id": job.id})  # fmt: skip
    else:
        job.enqueued_at = _now()
        session.commit()


@dataclass(frozen=True)
class SweepReport:
    requeued: list[int]
    failed: list[int]


def sweep(session: Session, client: redis.Redis, settings: Settings, stale_after: float) -> SweepReport:
    """Re-enqueue jobs the broker lost and jobs whose worker died (running past the lease); jobs out of
    attempts are failed with a reason.

    A message only says "there is work" (workers pick the fairest job), so what matters is that the
    broker holds at least as many messages as there are waiting jobs. When it holds fewer (Redis
    restarted empty, a message was dropped), the oldest waiting jobs are enqueued again at once; an
    occasional extra message is harmless, since claims are idempotent. Jobs enqueued longer ago than
    `stale_after` are enqueued again too, whatever the count says."""
    now = _now()
    requeued: list[int] = []
    failed: list[int] = []
    expired = session.scalars(
        select(Job).where(Job.state == JobState.RUNNING, Job.lease_expires_at < now).with_for_update()
    ).all()
    for job in expired:
        if job.attempts >= settings.render.max_attempts:
            job.state, job.finished_at = JobState.FAILED, now
            job.error = f"the worker stopped responding during {job.attempts} attempts"
            failed.append(job.id)
        else:
            job.state, job.lease_owner, job.lease_expires_at = JobState.QUEUED, None, None
            job.enqueued_at = None
    session.commit()
    stale = list(
        session.scalars(
            select(Job).where(
                Job.state == JobState.QUEUED,
                or_(Job.enqueued_at.is_(None), Job.enqueued_at < now - timedelta(seconds=stale_after)),
            )
        )
    )
    stale += _missing_from_broker(session, client, now, exclude={job.id for job in stale})
    for job in stale:
        try:
            enqueue(job, client, settings)
        except Exception:
            log.exception("sweeper: enqueue of job %s failed", job.id, extra={"job_id": job.id})
            continue
        job.enqueued_at = now
        requeued.append(job.id)
    session.commit()
    for job_id in failed:
        events.publish(client, "failed", job_id, error="the worker stopped responding")
    return SweepReport(requeued=requeued, failed=failed)


ENQUEUE_SETTLE_SECONDS = 5.0
"""A job committed this recently may not have reached the broker yet: not counted as missing."""


def _missing_from_broker(session: Session, client: redis.Redis, now: datetime, exclude: set[int]) -> list[Job]:
    """Waiting jobs beyond the number of messages the broker holds, oldest first."""
    settled = now - timedelta(seconds=ENQUEUE_SETTLE_SECONDS)
    waiting = session.scalars(
        select(Job).where(Job.state == JobState.QUEUED, Job.enqueued_at < settled).order_by(Job.enqueued_at, Job.id)
    ).all()
    deficit = len(waiting) - broker_backlog(client)
    if deficit <= 0:
        return []
    log.warning("sweeper: the broker holds %d messages fewer than waiting jobs; enqueuing again", deficit)
    return [job for job in waiting if job.id not in exclude][:deficit]


def record_delivery(session: Session, job_id: int, message_id: int) -> bool:
    """Remember the Discord message that carries a job's result, once: `discord_message_id` set means
    delivered, which is how a restarted bot knows what it still owes and never posts a result twice."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.discord_message_id.is_(None))
        .values(discord_message_id=message_id)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def checkpoint_of(session: Session, job: Job) -> ModelFile:
    if job.checkpoint_id is None:
        raise NotFound(f"job {job.id} names no checkpoint")
    model = session.get(ModelFile, job.checkpoint_id)
    if model is None:
        raise NotFound(f"checkpoint of job {job.id} is gone from the registry")
    return model


@dataclass(frozen=True)
class Actor:
    """Who asks for an action on a job: a member (by user id), a moderator, or the machine's operator."""

    user_id: int | None
    moderator: bool = False

    @classmethod
    def of(cls, user: User | None) -> Actor:
        if user is None:
            return cls(None)
        return cls(user.id, user.role in (Role.MODERATOR, Role.ADMIN))


OPERATOR = Actor(None, moderator=True)
"""The CLI: whoever runs it holds the database credentials anyway."""


def cancel_key(job_id: int) -> str:
    return f"{CANCEL_KEY_PREFIX}{job_id}"


def cancel(session: Session, client: redis.Redis, job_id: int, actor: Actor) -> Job:
    """Cancel a queued or running job; only its owner or a moderator may. A running job's worker sees
    the flag at its next step and stops; the job is `cancelled` from now on, whatever it was doing."""
    job = get_job(session, job_id)
    if not actor.moderator and (actor.user_id is None or actor.user_id != job.owner_id):
        raise Forbidden(f"job {job_id} is not yours; only its owner or a moderator can cancel it")
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
        .values(state=JobState.CANCELLED, finished_at=_now(), lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(job)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidInput("job", f"job {job_id} is already {job.state.value}; only waiting or running jobs can stop")
    try:
        client.set(cancel_key(job_id), "1", ex=CANCEL_FLAG_SECONDS)
        events.publish(client, "cancelled", job_id)
    except redis.RedisError:  # the state is already cancelled: the worker's lease renewal sees it too
        log.exception("job %s: cancel flag not published", job_id, extra={"job_id": job_id})
    return job


def cancel_requested(client: redis.Redis, job_id: int) -> bool:
    """Checked by the worker every step: cheap (one Redis EXISTS) and never fatal."""
    try:
        return bool(client.exists(cancel_key(job_id)))
    except redis.RedisError:
        return False
