"""Job events on Redis pub/sub: how the bot and the gallery learn of progress without polling.

Events are small JSON objects; pictures (previews, results) are files, and events carry their
paths. One channel carries every event (the bot listens there) and one channel per job (a web page
watching one render listens there).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import redis

ALL_EVENTS = "atelier:events"


def job_channel(job_id: int) -> str:
    return f"atelier:job:{job_id}"


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)


@lru_cache(maxsize=4)
def shared_client(url: str) -> redis.Redis:
    """A process-wide client (with its connection pool) for request handlers."""
    return redis_client(url)


def publish(client: redis.Redis, kind: str, job_id: int, **data: Any) -> None:
    """Publish `job.<kind>`; a lost event only delays a reader, who can always re-read the job."""
    message = json.dumps({"type": f"job.{kind}", "job_id": job_id, **data})
    client.publish(job_channel(job_id), message)
    client.publish(ALL_EVENTS, message)


def decode(raw: str | bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("event is not a JSON object")
    return value
