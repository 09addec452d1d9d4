"""`python -m workers`: one Celery worker process, solo pool, one job at a time (one per GPU)."""

from __future__ import annotations

import logging
import os

from atelier.queue import SHARED_QUEUE, model_queue
from atelier.settings import get_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from workers.app import app, warm_checkpoint_names

    queues = ",".join([SHARED_QUEUE, *(model_queue(name) for name in warm_checkpoint_names(get_settings()))])
    app.worker_main(
        [
            "worker",
            "-P",
            "solo",
            "-c",
            "1",
            "-Q",
            queues,
            "-n",
            f"render-{os.getpid()}@%h",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


if __name__ == "__main__":
    main()
