"""`atelier render`: submit one job to the running system and wait for its images.

It needs the broker that the workers listen on; when that cannot be reached it says how to start
the system rather than queueing a job nobody will render.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis
import typer

from atelier import events
from atelier.db import migrate, session_factory
from atelier.errors import AtelierError
from atelier.schema import Image, Job, JobSource, JobState
from atelier.services.jobs import submit
from atelier.settings import Settings


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def submit_and_wait(settings: Settings, fields: Mapping[str, Any], timeout: float) -> list[Path]:
    client = events.redis_client(settings.redis_url)
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        raise _fail(
            f"cannot reach Redis at {settings.redis_url} ({error}); start the system with `atelier up`"
        ) from None
    migrate(settings.database_url)
    # redis-py 8.2 (what a fresh install gets today) types `pubsub()`; older releases leave it untyped.
    listener = client.pubsub()  # type: ignore[no-untyped-call, unused-ignore]
    sessions = session_factory(settings.database_url)
    with sessions() as session:
        try:
            job = submit(session, settings, fields, source=JobSource.CLI)
        except AtelierError as error:
            raise _fail(error.message) from None
        job_id = job.id
        typer.echo(f"job {job_id} queued (#{job.queue_position}, about {job.eta_seconds or 0:.0f} s)", err=True)
    listener.subscribe(events.job_channel(settings.redis_url, job_id))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=1.0)
        if message and message["type"] == "message":
            event = json.loads(message["data"])
            if event["type"] == "job.progress":
                typer.echo(f"step {event['step']}/{event['total']}", err=True)
        with sessions() as session:
            current = session.get(Job, job_id)
            assert current is not None
            if current.state == JobState.DONE:
                images = session.query(Image).filter_by(job_id=job_id).order_by(Image.index).all()
                return [(settings.paths.images_dir / image.file_path).resolve() for image in images]
            if current.state.finished:
                raise _fail(f"job {job_id} {current.state.value}: {current.error}")
    raise _fail(f"job {job_id} did not finish within {timeout:.0f} s; it stays queued")
