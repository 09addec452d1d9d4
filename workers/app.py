"""The worker's Celery app: the shared app object with the render task registered, and a sweeper
thread that recovers jobs whose worker died or whose broker message was lost."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import worker_ready, worker_shutting_down

from atelier import events
from atelier.db import migrate, session_factory
from atelier.queue import RENDER_TASK, celery_app
from atelier.services.jobs import sweep
from atelier.settings import get_settings
from workers.tasks import render_job

log = logging.getLogger(__name__)

app = celery_app()
_stop = threading.Event()


@app.task(name=RENDER_TASK)  # type: ignore[untyped-decorator]
def render(job_id: int) -> str:
    result = render_job(int(job_id))
    log.info("job %s: %s", job_id, result)
    return result


def sweep_forever() -> None:
    settings = get_settings()
    stale_after = settings.render.max_render_seconds + 600
    while not _stop.wait(settings.render.sweep_interval_seconds):
        try:
            client = events.redis_client(settings.redis_url)
            with session_factory(settings.database_url)() as session:
                report = sweep(session, client, settings, stale_after)
            client.close()
            if report.requeued or report.failed:
                log.info("sweeper: requeued %s, failed %s", report.requeued, report.failed)
        except Exception:  # the database or Redis may be restarting; try again next round
            log.exception("sweeper round failed")


@worker_ready.connect
def _start_sweeper(**_: Any) -> None:
    migrate(get_settings().database_url)
    threading.Thread(target=sweep_forever, name="sweeper", daemon=True).start()
    log.info("worker ready")


@worker_shutting_down.connect
def _stop_sweeper(**_: Any) -> None:
    _stop.set()
