"""The worker's Celery app: the shared app object with the render task registered, and a sweeper
thread that recovers jobs whose worker died or whose broker message was lost."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import worker_ready, worker_shutting_down
from sqlalchemy import select

from atelier import events
from atelier.db import migrate, session_factory
from atelier.queue import (
    RENDER_TASK,
    WARM_TTL_SECONDS,
    advertise_warm,
    advertise_worker,
    celery_app,
    withdraw_worker,
)
from atelier.schema import ModelFile, ModelKind
from atelier.services.jobs import sweep
from atelier.settings import Settings, get_settings
from workers.shutdown import SHUTDOWN
from workers.tasks import WORKER_ID, pipeline_cache, render_job

log = logging.getLogger(__name__)

app = celery_app()
_stop = threading.Event()
_warm: list[str] = []


@app.task(name=RENDER_TASK)  # type: ignore[untyped-decorator]
def render(job_id: int) -> str:
    return render_job(int(job_id))  # logs its outcome with the job ids it rendered


def warm_checkpoint_names(settings: Settings) -> list[str]:
    """The checkpoints this worker loads at start and serves from their own queues."""
    names = [name.strip() for name in settings.render.worker_checkpoints.split(",") if name.strip()]
    return names or [settings.render.default_checkpoint]


def preload(settings: Settings) -> list[str]:
    """Load the worker's checkpoints now, so the first job on them does not pay for loading."""
    loaded = []
    with session_factory(settings.database_url)() as session:
        for name in warm_checkpoint_names(settings):
            model = session.scalar(
                select(ModelFile).where(ModelFile.kind == ModelKind.CHECKPOINT, ModelFile.name == name)
            )
            if model is None:
                log.warning("checkpoint %s is not registered; not preloading it", name)
                continue
            try:
                pipeline_cache().get(model.file_path)
            except Exception:
                log.exception("checkpoint %s could not be loaded", name)
                continue
            loaded.append(name)
    return loaded


def housekeeping_forever(warm: list[str]) -> None:
    """Every few seconds: keep the warm marks and this worker's heartbeat alive (ETAs divide the queue
    by the live workers) and sweep lost jobs back into the queue."""
    settings = get_settings()
    stale_after = settings.render.max_render_seconds + 600
    while not _stop.is_set():
        try:
            client = events.redis_client(settings.redis_url)
            advertise_warm(client, warm)
            advertise_worker(client, WORKER_ID, warm)
            with session_factory(settings.database_url)() as session:
                report = sweep(session, client, settings, stale_after)
            client.close()
            if report.requeued or report.failed:
                log.info("sweeper: requeued %s, failed %s", report.requeued, report.failed)
        except Exception:  # the database or Redis may be restarting; try again next round
            log.exception("housekeeping round failed")
        if _stop.wait(min(settings.render.sweep_interval_seconds, WARM_TTL_SECONDS / 3)):
            return


@worker_ready.connect
def _start_housekeeping(**_: Any) -> None:
    settings = get_settings()
    migrate(settings.database_url)
    warm = preload(settings)
    _warm[:] = warm
    threading.Thread(target=housekeeping_forever, args=(warm,), name="housekeeping", daemon=True).start()
    log.info("worker ready (warm: %s)", ", ".join(warm) or "none")


@worker_shutting_down.connect
def _stop_housekeeping(**_: Any) -> None:
    """SIGTERM: stop advertising, and let the running render finish within the grace period or give its
    job back (workers.shutdown)."""
    _stop.set()
    settings = get_settings()
    SHUTDOWN.begin(settings.render.shutdown_grace_seconds)
    log.info("shutting down: a running render gets %gs to finish", settings.render.shutdown_grace_seconds)
    try:
        client = events.redis_client(settings.redis_url)
        withdraw_worker(client, WORKER_ID, _warm)
        client.close()
    except Exception:
        log.exception("could not withdraw this worker's heartbeat")
