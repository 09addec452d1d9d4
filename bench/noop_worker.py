"""A Celery worker whose render task claims and completes jobs without rendering.

It isolates Atelier's own per-job overhead (submit, broker round trip, claim, completion, event)
from diffusion time; the real worker differs only in what happens between claim and complete.
"""

from __future__ import annotations

import os
import socket

from atelier import events
from atelier.db import session_factory
from atelier.queue import RENDER_TASK, SHARED_QUEUE, celery_app
from atelier.services import jobs
from atelier.settings import get_settings

WORKER_ID = f"noop-{socket.gethostname()}:{os.getpid()}"
app = celery_app()
settings = get_settings()
sessions = session_factory(settings.database_url)
client = events.redis_client(settings.redis_url)


@app.task(name=RENDER_TASK)  # type: ignore[untyped-decorator]
def render(job_id: int) -> None:
    with sessions() as session:
        if jobs.claim(session, job_id, WORKER_ID, settings.render.lease_seconds) is not None:
            jobs.complete(session, client, job_id, WORKER_ID, [])


if __name__ == "__main__":
    app.worker_main(["worker", "-P", "solo", "-c", "1", "-Q", SHARED_QUEUE, "--loglevel=WARNING",
                     "--without-gossip", "--without-mingle", "-n", f"noop-{os.getpid()}@%h"])  # fmt: skip
