"""Job events on Redis pub/sub: how the bot and the gallery learn of progress without polling.

Events are small JSON objects; results are files, and events carry their ids (a progress preview
is a small inline data: URL). One channel carries every event (the bot listens there) and one
channel per job (a web page watching one render listens there).

Pub/sub ignores Redis database numbers: two installs sharing one Redis server on different
databases would hear each other's `job.done` for their own job 5. Channel names therefore carry
the database number of the URL they are used with.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

import redis

log = logging.getLogger(__name__)


def _database(client: redis.Redis) -> int:
    pool = getattr(client, "connection_pool", None)  # stand-ins in tests have none: database 0
    return int(getattr(pool, "connection_kwargs", {}).get("db", 0) or 0)


def _database_of(url: str) -> int:
    return _database(redis.Redis.from_url(url))  # parses the URL only; no connection is made


def all_events_channel(redis_url: str) -> str:
    """The channel with every job's events, for this Redis database."""
    return f"atelier:{_database_of(redis_url)}:events"


def job_channel(redis_url: str, job_id: int) -> str:
    """The channel with one job's events, for this Redis database."""
    return f"atelier:{_database_of(redis_url)}:job:{job_id}"


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)


@lru_cache(maxsize=4)
def shared_client(url: str) -> redis.Redis:
    """A process-wide client (with its connection pool) for request handlers."""
    return redis_client(url)


def publish(client: redis.Redis, kind: str, job_id: int, **data: Any) -> None:
    """Publish `job.<kind>`. A lost event only delays a reader, who can always re-read the job, so Redis
    being down is logged, never raised: the state change the event reports is already committed, and a
    raise here would undo nothing but could fail a render that succeeded."""
    message = json.dumps({"type": f"job.{kind}", "job_id": job_id, **data})
    prefix = f"atelier:{_database(client)}:"
    try:
        client.publish(f"{prefix}job:{job_id}", message)
        client.publish(f"{prefix}events", message)
    except redis.RedisError as error:
        log.warning("job %s: event job.%s not published (%s)", job_id, kind, error, extra={"job_id": job_id})


def decode(raw: str | bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("event is not a JSON object")
    return value
