"""A Celery worker that runs the real claim path (fair order, leases, completion) with a fast renderer.

It isolates Atelier's own per-job overhead and scheduling (submit, broker round trip, fair claim,
completion, event) from diffusion time: "rendering" is a fixed sleep (ATELIER_BENCH_RENDER_MS,
default 0) and a small stored PNG, so the gallery has real files to serve afterwards.
"""

from __future__ import annotations

import os
import socket
import time

from PIL import Image

from atelier import events
from atelier.db import session_factory
from atelier.queue import RENDER_TASK, SHARED_QUEUE, celery_app
from atelier.services import jobs, scheduling
from atelier.settings import get_settings
from atelier.storage import store_image

WORKER_ID = f"noop-{socket.gethostname()}:{os.getpid()}"
RENDER_SECONDS = float(os.environ.get("ATELIER_BENCH_RENDER_MS", "0")) / 1000
app = celery_app()
settings = get_settings()
sessions = session_factory(settings.database_url)
client = events.redis_client(settings.redis_url)


def fake_render(job_id: int) -> list[jobs.ImageRecord]:
    time.sleep(RENDER_SECONDS)
    picture = Image.new("RGB", (64, 64), ((job_id * 37) % 256, (job_id * 91) % 256, 128))
    stored = store_image(settings.paths.images_dir, picture, f"bench {job_id}\nSeed: {job_id}")
    return [jobs.ImageRecord(index=0, seed=job_id, infotext=f"bench {job_id}", **stored.__dict__)]


@app.task(name=RENDER_TASK)  # type: ignore[untyped-decorator]
def render(job_id: int) -> None:
    with sessions() as session:
        fairest = [job.id for job in scheduling.next_jobs(session, settings, set())][:5]
        candidates = [*fairest, job_id]
        for candidate in candidates:
            if jobs.claim(session, candidate, WORKER_ID, settings.render.lease_seconds) is not None:
                jobs.complete(session, client, candidate, WORKER_ID, fake_render(candidate), RENDER_SECONDS)
                return


if __name__ == "__main__":
    app.worker_main(["worker", "-P", "solo", "-c", "1", "-Q", SHARED_QUEUE, "--loglevel=WARNING",
                     "--without-gossip", "--without-mingle", "-n", f"noop-{os.getpid()}@%h"])  # fmt: skip
