"""The Celery task: a thin shell over the job services and the engine.

The message carries only a job id. The task claims the job in the database (so a duplicated or
redelivered message does nothing), renders, stores the files, and completes the job; while it
renders it renews its lease and publishes progress at most once a second.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from functools import lru_cache
from pathlib import Path

import redis
from diffusers import StableDiffusionPipeline
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from atelier import events
from atelier.db import session_factory
from atelier.infotext import format_infotext
from atelier.recipe import Recipe
from atelier.schema import Job, ModelFile, ModelKind
from atelier.services import jobs
from atelier.settings import get_settings
from atelier.storage import store_image
from workers.engine import PipelineCache, pick_device, render, set_cpu_threads
from workers.lease import LeaseKeeper
from workers.networks import networks_applied

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
PROGRESS_INTERVAL_SECONDS = 1.0


@lru_cache(maxsize=1)
def pipeline_cache() -> PipelineCache:
    settings = get_settings()
    set_cpu_threads(settings.render.torch_threads)
    return PipelineCache(settings.paths.models_dir, pick_device(settings.render.device))


def render_job(job_id: int) -> str:
    """Run one job to its end; returns what happened, for the log."""
    settings = get_settings()
    sessions = session_factory(settings.database_url)
    client = events.redis_client(settings.redis_url)
    try:
        with sessions() as session:
            return _render_claimed(session, sessions, client, job_id)
    finally:
        client.close()


def _load_checkpoint(session: Session, job_id: int) -> tuple[StableDiffusionPipeline | None, Exception | None]:
    """Load before claiming: loading can outlast a short lease and would waste another worker's claim."""
    job = session.get(Job, job_id)
    if job is None or job.state.finished:
        return None, None
    try:
        return pipeline_cache().get(jobs.checkpoint_of(session, job).file_path), None
    except Exception as error:
        return None, error


def network_files(session: Session, recipe: Recipe) -> dict[tuple[str, str], Path]:
    """Where the recipe's LoRAs and embeddings live in the store (enabled ones only)."""
    wanted = {lora.name for lora in recipe.loras} | {embedding.name for embedding in recipe.embeddings}
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


def _render_claimed(session: Session, sessions: sessionmaker[Session], client: redis.Redis, job_id: int) -> str:
    settings = get_settings()
    pipe, load_error = _load_checkpoint(session, job_id)
    job = jobs.claim(session, job_id, WORKER_ID, settings.render.lease_seconds)
    if job is None:
        return "skipped: finished or held by another worker"
    try:
        if pipe is None:
            raise load_error or RuntimeError("the checkpoint could not be loaded")
        recipe = Recipe.from_json(job.recipe)
        checkpoint = jobs.checkpoint_of(session, job)
        with LeaseKeeper(sessions, job_id, WORKER_ID, settings.render.lease_seconds) as lease:
            last_report = 0.0

            def on_step(step: int, total: int) -> bool:
                nonlocal last_report
                lease.step = step
                now = time.monotonic()
                if now - last_report >= PROGRESS_INTERVAL_SECONDS or step == total:
                    last_report = now
                    events.publish(client, "progress", job_id, step=step, total=total)
                return lease.held

            started = time.monotonic()
            with networks_applied(pipe, recipe, network_files(session, recipe)):
                images = render(pipe, recipe, on_step)
            records = []
            for index, (image, seed) in enumerate(zip(images, recipe.seeds(), strict=True)):
                infotext = format_infotext(recipe, seed=seed, model_name=checkpoint.name, model_hash=checkpoint.autov2)
                stored = store_image(settings.paths.images_dir, image, infotext)
                records.append(jobs.ImageRecord(index=index, seed=seed, infotext=infotext, **stored.__dict__))
        done = jobs.complete(session, client, job_id, WORKER_ID, records)
        elapsed = time.monotonic() - started
        return f"done in {elapsed:.2f}s" if done else "rendered, but the job was taken away"
    except InterruptedError:
        return "stopped: the job was cancelled or taken away"
    except Exception as error:
        log.exception("job %s failed", job_id)
        reason = f"{type(error).__name__}: {error}"
        return f"failed ({jobs.fail(session, client, job_id, WORKER_ID, reason, settings.render.max_attempts)})"
