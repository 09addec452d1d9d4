"""`python -m workers`: one Celery worker process, solo pool, one job at a time (one per GPU)."""

from __future__ import annotations

import os
from typing import Any

from celery.signals import setup_logging as celery_logging

from atelier.logging_setup import setup_logging
from atelier.queue import SHARED_QUEUE, model_queue
from atelier.settings import get_settings


def _keep_our_logging(**_: Any) -> None:
    """Celery configures logging only when nobody answers this signal."""


def main() -> None:
    setup_logging(get_settings())
    celery_logging.connect(_keep_our_logging, weak=False)  # Celery would add its own handlers otherwise
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
