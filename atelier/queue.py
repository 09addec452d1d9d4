"""The Celery app object shared by every process, configured for long GPU renders.

Only job ids travel through the broker; the database holds the job. Settings follow Celery's
advice for long tasks: acks late, prefetch one, requeue when a worker dies, and a visibility
timeout longer than the longest render so Redis does not hand a running job to a second worker.
Workers run `-P solo -c 1`, one process per GPU.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import lru_cache

import redis
from celery import Celery
from kombu.entity import Queue

from atelier.settings import Settings, get_settings

RENDER_TASK = "atelier.render"
SHARED_QUEUE = "render"
MODEL_QUEUE_PREFIX = "render.model."


WARM_KEY_PREFIX = "atelier:warm:"
WARM_TTL_SECONDS = 45


def model_queue(checkpoint: str) -> str:
    """Jobs for a checkpoint that some worker holds warm go to that model's own queue."""
    return f"{MODEL_QUEUE_PREFIX}{checkpoint}"


def advertise_warm(client: redis.Redis, checkpoints: Iterable[str]) -> None:
    """A worker says which checkpoints it holds loaded; the mark lapses unless renewed."""
    for name in checkpoints:
        client.set(f"{WARM_KEY_PREFIX}{name}", "1", ex=WARM_TTL_SECONDS)


WORKER_KEY_PREFIX = "atelier:worker:"


def advertise_worker(client: redis.Redis, worker: str, checkpoints: Iterable[str]) -> None:
    """A worker says it is alive (and what it holds warm); the mark lapses unless renewed."""
    client.set(f"{WORKER_KEY_PREFIX}{worker}", json.dumps(sorted(checkpoints)), ex=WARM_TTL_SECONDS)


def withdraw_worker(client: redis.Redis, worker: str, checkpoints: Iterable[str]) -> None:
    """A stopping worker takes back its heartbeat and warm marks, so jobs it gives back go to the shared
    queue (which every worker serves) rather than to a model queue that nobody may serve any more. A
    mark another worker also holds is renewed by that worker within a housekeeping round."""
    client.delete(f"{WORKER_KEY_PREFIX}{worker}", *(f"{WARM_KEY_PREFIX}{name}" for name in checkpoints))


def live_workers(client: redis.Redis) -> dict[str, list[str]]:
    """Workers that advertised within the last `WARM_TTL_SECONDS`, with their warm checkpoints."""
    found: dict[str, list[str]] = {}
    for key in client.scan_iter(match=f"{WORKER_KEY_PREFIX}*", count=100):
        name = key.decode() if isinstance(key, bytes) else str(key)
        raw = client.get(key)
        if raw is not None:
            found[name.removeprefix(WORKER_KEY_PREFIX)] = list(json.loads(raw))
    return found


def queue_for(client: redis.Redis, checkpoint: str) -> str:
    """The model's own queue while a live worker holds it warm (no model switch), else the shared queue."""
    return model_queue(checkpoint) if client.exists(f"{WARM_KEY_PREFIX}{checkpoint}") else SHARED_QUEUE


def broker_backlog(client: redis.Redis) -> int:
    """Render messages waiting in the broker: the shared and per-model queues, every priority level
    (Celery's Redis transport keeps each as a list whose name starts with the queue's)."""
    total = 0
    for key in client.scan_iter(match=f"{SHARED_QUEUE}*", count=200, _type="list"):
        total += int(client.llen(key))
    return total


def celery_broker_url(redis_url: str) -> str:
    """redis-py spells a socket `unix://path`; kombu spells it `redis+socket://path`."""
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


def make_celery(broker_url: str, visibility_timeout: int) -> Celery:
    app = Celery("atelier", broker=broker_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility_timeout},
        task_default_queue=SHARED_QUEUE,
        task_queues=[Queue(SHARED_QUEUE)],  # type: ignore[no-untyped-call]
        task_routes={RENDER_TASK: {"queue": SHARED_QUEUE}},
        worker_send_task_events=False,
        worker_enable_remote_control=True,
    )
    return app


@lru_cache(maxsize=4)
def _app_for(broker_url: str, visibility_timeout: int) -> Celery:
    return make_celery(broker_url, visibility_timeout)


def celery_app(settings: Settings | None = None) -> Celery:
    """The app for `settings` (default: the process's), one per broker: a gallery or bot built with
    explicit settings enqueues on their broker, not on the environment's."""
    chosen = settings or get_settings()
    # The visibility timeout covers the longest render plus time a message waits reserved.
    return _app_for(celery_broker_url(chosen.redis_url), chosen.render.max_render_seconds + 600)


def forget_apps() -> None:
    """Drop cached apps (tests change the broker between cases)."""
    _app_for.cache_clear()
