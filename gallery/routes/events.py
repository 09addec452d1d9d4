"""Server-sent events for a job page: the job's status each time it changes, until it finishes.

Workers publish progress and completion on the job's Redis channel; each message wakes the stream,
which then re-reads the job from the database (the record of truth) and sends the same status
shape as `GET /api/jobs/{id}`, plus the worker's latest preview when its event brought one. Some
changes are not published (a worker claiming the job, the queue moving), so an idle stream also
re-reads every few seconds; if Redis is unreachable the stream degrades to that slower polling
rather than failing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from redis.exceptions import RedisError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from atelier.events import job_channel
from atelier.services.jobs import get_job
from gallery.deps import SettingsDep, checked_id
from gallery.presenters import job_status

log = logging.getLogger(__name__)
router = APIRouter()

IDLE_REFRESH_SECONDS = 3.0
KEEPALIVE_SECONDS = 15.0
# A browser reconnects (or falls back to polling) after this; it bounds a forgotten tab's cost.
MAX_STREAM_SECONDS = 30 * 60.0


def _load(factory: sessionmaker[Session], job_id: int) -> dict[str, Any]:
    with factory() as session:
        return job_status(session, get_job(session, job_id))


def _event(status: dict[str, Any]) -> str:
    return f"event: status\ndata: {json.dumps(status)}\n\n"


class _Wakeups:
    """Waits for a message on the job's channel, or for a timeout when Redis is not there."""

    def __init__(self, redis_url: str, channel: str) -> None:
        self.redis_url, self.channel = redis_url, channel
        self.client: aioredis.Redis | None = None
        self.pubsub: Any = None

    async def open(self) -> None:
        try:
            self.client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=5)
            self.pubsub = self.client.pubsub()
            await self.pubsub.subscribe(self.channel)
        except (RedisError, OSError):
            log.warning("job events: Redis unavailable, polling the database instead")
            await self.close()

    async def wait(self, seconds: float) -> dict[str, Any] | None:
        """The event that arrived, or None when the time ran out."""
        if self.pubsub is None:
            await asyncio.sleep(seconds)
            return None
        try:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=seconds)
        except (RedisError, OSError):
            await self.close()
            return None
        if message is None:
            return None
        try:
            event = json.loads(message["data"])
        except (TypeError, ValueError):
            return {}
        return event if isinstance(event, dict) else {}

    async def close(self) -> None:
        pubsub, client, self.pubsub, self.client = self.pubsub, self.client, None, None
        try:
            if pubsub is not None:
                await pubsub.aclose()
            if client is not None:
                await client.aclose()
        except (RedisError, OSError):
            pass


async def _stream(request: Request, redis_url: str, job_id: int, first: dict[str, Any]) -> AsyncIterator[str]:
    yield "retry: 2000\n\n" + _event(first)
    if first["finished"]:
        return
    factory = request.app.state.session_factory
    wakeups = _Wakeups(redis_url, job_channel(redis_url, job_id))
    await wakeups.open()
    last, last_sent = first, time.monotonic()
    deadline = last_sent + MAX_STREAM_SECONDS
    try:
        while time.monotonic() < deadline and not await request.is_disconnected():
            event = await wakeups.wait(IDLE_REFRESH_SECONDS)
            status = await run_in_threadpool(_load, factory, job_id)
            if event and isinstance(event.get("preview"), str) and not status["finished"]:
                status["preview"] = event["preview"]  # a worker's data: URL; progress events carry one
            if status != last:
                last, last_sent = status, time.monotonic()
                yield _event(status)
                if status["finished"]:
                    return
            elif time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                last_sent = time.monotonic()
                yield ": keepalive\n\n"
    finally:
        await wakeups.close()


@router.get("/api/jobs/{job_id}/events")
async def job_events(request: Request, job_id: str, settings: SettingsDep) -> StreamingResponse:
    factory = request.app.state.session_factory
    # Read once before streaming so an unknown job is a plain 404, not an empty stream.
    number = checked_id(job_id, "job")
    first = await run_in_threadpool(_load, factory, number)
    return StreamingResponse(
        _stream(request, settings.redis_url, number, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
