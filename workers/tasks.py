"""The Celery task: a thin shell over the job services and the engine.

A message means "there is work": the worker asks the scheduler which queued job is fairest to run
now (preferring checkpoints it holds loaded), loads that checkpoint, claims the job in the database
(so a duplicated or redelivered message does nothing), renders, stores the files, and completes
the job. The message's own job is the fallback, which is how a job whose worker died is picked up.
While it renders it renews its lease, stops within a step when the job is cancelled, and publishes
progress at most once a second, with a preview when the preview budget allows.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import redis
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from atelier import events
from atelier.db import session_factory
from atelier.errors import AtelierError
from atelier.infotext import format_infotext
from atelier.logging_setup import job_context
from atelier.recipe import Recipe
from atelier.render_plan import work_units
from atelier.schema import Image as StoredImage
from atelier.schema import Job, ModelFile, ModelKind
from atelier.services import jobs, scheduling
from atelier.settings import get_settings
from atelier.storage import store_image
from workers.batch_invariance import invariant_batch_images
from workers.batching import RenderOutOfMemory, render_group
from workers.engine import ModelNotLoadable, pick_device, set_cpu_threads
from workers.lease import LeaseKeeper
from workers.model_cache import GIB, PipelineCache
from workers.networks import NetworkMissing, networks_applied
from workers.preview import PreviewBudget, data_url
from workers.shutdown import SHUTDOWN

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
PROGRESS_INTERVAL_SECONDS = 1.0
CLAIM_TRIES = 5


@lru_cache(maxsize=1)
def pipeline_cache() -> PipelineCache:
    settings = get_settings()
    set_cpu_threads(settings.render.torch_threads)
    render = settings.render
    return PipelineCache(
        settings.paths.models_dir,
        pick_device(render.device),
        ram_budget=int(render.ram_budget_gb * GIB) or None,
        vram_budget=int(render.vram_budget_gb * GIB) or None,
    )


def render_job(job_id: int) -> str:
    """Run the fairest waiting job (or the message's own job) to its end; returns what happened, for the log."""
    settings = get_settings()
    sessions = session_factory(settings.database_url)
    client = events.redis_client(settings.redis_url)
    try:
        with sessions() as session:
            for candidate in _candidates(session, job_id)[:CLAIM_TRIES]:
                pipe, load_error = _load_checkpoint(session, candidate)
                job = jobs.claim(session, candidate, WORKER_ID, settings.render.lease_seconds)
                if job is not None:
                    group = [job, *_claim_companions(session, job, pipe)] if pipe is not None else [job]
                    names = ", ".join(str(member.id) for member in group)
                    label = f"job {names}" if len(group) == 1 else f"batch of {len(group)} jobs ({names})"
                    with job_context(*(member.id for member in group)):
                        outcome = f"{label}: " + _render_claimed(session, sessions, client, group, pipe, load_error)
                        log.info("%s", outcome)
                    return outcome
            log.info("job %s: nothing to claim: every waiting job is taken", job_id)
            return "nothing to claim: every waiting job is taken"
    finally:
        client.close()


def _claim_companions(session: Session, job: Job, pipe: StableDiffusionPipeline) -> list[Job]:
    """Claim the waiting jobs that can share this job's sampler call, up to the batch size this hardware
    renders with each image unchanged."""
    settings = get_settings()
    recipe = Recipe.from_json(job.recipe)
    most = invariant_batch_images(pipe, settings.render.max_batch_images, max(recipe.width, recipe.height))
    room = most - recipe.count
    claimed = []
    for other in scheduling.companions(session, settings, job, room):
        taken = jobs.claim(session, other.id, WORKER_ID, settings.render.lease_seconds)
        if taken is not None:
            claimed.append(taken)
    return claimed


def _candidates(session: Session, hint: int) -> list[int]:
    """Job ids to try, best first: the fair order (warm checkpoints first), then the message's own job."""
    warm_paths = set(pipeline_cache().warm())
    warm_ids = set(
        session.scalars(
            select(ModelFile.id).where(ModelFile.kind == ModelKind.CHECKPOINT, ModelFile.file_path.in_(warm_paths))
        )
    )
    order = [job.id for job in scheduling.next_jobs(session, get_settings(), warm_ids)]
    return [*order, hint] if hint not in order else order


def _load_checkpoint(session: Session, job_id: int) -> tuple[StableDiffusionPipeline | None, Exception | None]:
    """Load before claiming: loading can outlast a short lease and would waste another worker's claim."""
    job = session.get(Job, job_id)
    if job is None or job.state.finished:
        return None, None
    try:
        return pipeline_cache().get(jobs.checkpoint_of(session, job).file_path), None
    except Exception as error:
        return None, error


def network_files(session: Session, recipes: list[Recipe]) -> dict[tuple[str, str], Path]:
    """Where the recipes' LoRAs and embeddings live in the store (enabled ones only)."""
    wanted = {lora.name for recipe in recipes for lora in recipe.loras}
    wanted |= {embedding.name for recipe in recipes for embedding in recipe.embeddings}
    if not wanted:
        return {}
    rows = session.scalars(
        select(ModelFile).where(
            ModelFile.kind.in_([ModelKind.LORA, ModelKind.EMBEDDING]),
            ModelFile.name.in_(wanted),
            ModelFile.enabled.is_(True),
        )
    )
    models_dir = get_settings().paths.models_dir
    return {(row.kind.value, row.name): models_dir / row.file_path for row in rows}


def init_image_of(recipe: Recipe) -> Image.Image | None:
    """img2img's source: `submit` already resolved it to a stored file."""
    if not recipe.init_image:
        return None
    with Image.open(get_settings().paths.images_dir / recipe.init_image) as source:
        return source.convert("RGB")


class StepReporter:
    """The per-step callback: lease and cancel checks every step, progress (with a preview when the budget
    allows) at most once a second, for every job of the batch."""

    def __init__(
        self, client: redis.Redis, group: list[Job], lease: LeaseKeeper, pipe: StableDiffusionPipeline
    ) -> None:
        self.client = client
        self.lease = lease
        self.pipe = pipe
        # Each job's first image's row in the batch's latents.
        self.rows: dict[int, int] = {}
        row = 0
        for job in group:
            self.rows[job.id] = row
            row += Recipe.from_json(job.recipe).count
        self.previews = PreviewBudget()
        self.last_report = 0.0
        self.started = time.monotonic()
        self.shutting_down = False

    def live_jobs(self) -> list[int]:
        """Jobs still ours and not cancelled (one Redis EXISTS each: cheaper than a step by far)."""
        held = [job_id for job_id in self.rows if self.lease.holds(job_id)]
        return [job_id for job_id in held if not jobs.cancel_requested(self.client, job_id)] if held else []

    def __call__(self, step: int, total: int, latents: torch.Tensor) -> bool:
        self.lease.step = step
        if SHUTDOWN.should_stop(self.started, step, total):  # the worker is stopping and this would not end in time
            self.shutting_down = True
            return False
        live = self.live_jobs()
        if not live:
            return False
        now = time.monotonic()
        if now - self.last_report >= PROGRESS_INTERVAL_SECONDS or step == total:
            self.last_report = now
            for job_id in live:
                extra = {}
                if step < total and self.previews.affordable():
                    extra["preview"] = data_url(self.previews.make(self.pipe, latents[self.rows[job_id]]))
                events.publish(self.client, "progress", job_id, step=step, total=total, **extra)
        return True


def outcome_summary(outcomes: list[tuple[int, str]]) -> str:
    """What became of a rendered group's jobs, for the log: "done" when all went alike, else each outcome
    with its job ids ("done (7, 9); rendered, but … (8)"), so the log says which job of a batch was done."""
    by_outcome: dict[str, list[int]] = {}
    for job_id, outcome in outcomes:
        by_outcome.setdefault(outcome, []).append(job_id)
    if len(by_outcome) == 1:
        return next(iter(by_outcome))
    return "; ".join(f"{outcome} ({', '.join(map(str, ids))})" for outcome, ids in by_outcome.items())


USER_FACING_ERRORS = (AtelierError, ModelNotLoadable, NetworkMissing, RenderOutOfMemory)


def failure_reason(error: Exception) -> str:
    """What a member reads when a job fails: our own errors are written as sentences; anything else is
    named by kind only, since its message and trace are for the operator's log."""
    if isinstance(error, USER_FACING_ERRORS):
        return str(error)
    return f"the render failed on the worker ({type(error).__name__}); the details are in the worker's log"


def matches_stored(session: Session, job: Job, images: list[Image.Image]) -> bool | None:
    """For an exact re-render: whether the new image has exactly the stored image's pixels (None otherwise)."""
    if job.exact_of_image_id is None:
        return None
    stored = session.get(StoredImage, job.exact_of_image_id)
    if stored is None:
        return None
    with Image.open(get_settings().paths.images_dir / stored.file_path) as original:
        before = original.convert("RGB")
    return before.size == images[0].size and before.tobytes() == images[0].convert("RGB").tobytes()


def _store(recipe: Recipe, images: list[Image.Image], checkpoint: ModelFile) -> list[jobs.ImageRecord]:
    settings = get_settings()
    records = []
    for index, (image, seed) in enumerate(zip(images, recipe.seeds(), strict=True)):
        infotext = format_infotext(recipe, seed=seed, model_name=checkpoint.name, model_hash=checkpoint.autov2)
        stored = store_image(settings.paths.images_dir, image, infotext)
        records.append(jobs.ImageRecord(index=index, seed=seed, infotext=infotext, **stored.__dict__))
    return records


def _render_claimed(
    session: Session,
    sessions: sessionmaker[Session],
    client: redis.Redis,
    group: list[Job],
    pipe: StableDiffusionPipeline | None,
    load_error: Exception | None,
) -> str:
    settings = get_settings()
    recipes = [Recipe.from_json(job.recipe) for job in group]
    reporter: StepReporter | None = None
    try:
        if pipe is None:
            raise load_error or RuntimeError("the checkpoint could not be loaded")
        checkpoint = jobs.checkpoint_of(session, group[0])
        with LeaseKeeper(sessions, [job.id for job in group], WORKER_ID, settings.render.lease_seconds) as lease:
            reporter = StepReporter(client, group, lease, pipe)
            started = time.monotonic()
            networks = replace(recipes[0], embeddings=tuple(e for recipe in recipes for e in recipe.embeddings))
            with networks_applied(pipe, networks, network_files(session, recipes)):
                rendered = render_group(pipe, recipes, reporter, init_image_of(recipes[0]))
            elapsed = time.monotonic() - started
        units = [work_units(recipe, checkpoint.native_size) for recipe in recipes]
        outcomes = []
        for job, recipe, images, share in zip(group, recipes, rendered, units, strict=True):
            seconds = elapsed * share / sum(units)
            records = _store(recipe, images, checkpoint)
            match = matches_stored(session, job, images)
            done = jobs.complete(session, client, job.id, WORKER_ID, records, seconds, exact_match=match)
            outcomes.append((job.id, "done" if done else "rendered, but the job was taken away or cancelled"))
        return f"{outcome_summary(outcomes)} in {elapsed:.2f}s"
    except InterruptedError:
        if reporter is not None and reporter.shutting_down:
            held = [job.id for job in group if reporter.lease.holds(job.id)]
            released = [job_id for job_id in held if not jobs.cancel_requested(client, job_id)]
            released = [job_id for job_id in released if jobs.release(session, client, job_id, WORKER_ID, settings)]
            return f"stopped: the worker is shutting down; requeued {released}"
        if all(jobs.cancel_requested(client, job.id) for job in group):
            return "stopped: cancelled"
        return "stopped: the jobs were taken away or cancelled"
    except Exception as error:
        log.exception("jobs %s failed", [job.id for job in group])
        reason = failure_reason(error)
        states = [jobs.fail(session, client, job.id, WORKER_ID, reason, settings.render.max_attempts) for job in group]
        return f"failed ({', '.join(str(state) for state in dict.fromkeys(states))})"
