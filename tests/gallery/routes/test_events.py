"""The job page's event stream: status on connect, a new status when the worker reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier import events
from atelier.db import session_scope
from atelier.services import jobs
from atelier.settings import RedisSettings, Settings
from atelier.storage import store_image
from gallery.app import create_app
from gallery.routes import events as events_route
from tests.gallery.factories import add_image, picture

WORKER = "test-worker"


def _statuses(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The `status` events of a server-sent event stream, decoded."""
    kind = ""
    for line in lines:
        if line.startswith("event:"):
            kind = line.removeprefix("event:").strip()
        elif line.startswith("data:") and kind == "status":
            yield json.loads(line.removeprefix("data:"))


def _queue_job(client: TestClient) -> int:
    response = client.post("/api/jobs", json={"prompt": "a red circle", "steps": 2, "width": 64, "height": 64})
    return int(response.json()["id"])


def _finish(settings: Settings, job_id: int, publish: bool) -> None:
    """Do what a worker does: claim, write a file, complete (which publishes `done`)."""
    stored = store_image(settings.paths.images_dir, picture("a red circle", 64), "a red circle\nSteps: 2")
    record = jobs.ImageRecord(index=0, seed=1, infotext="a red circle\nSteps: 2", **stored.__dict__)
    client = events.redis_client(settings.redis_url)
    with session_scope(settings.database_url) as session:
        assert jobs.claim(session, job_id, WORKER, 60) is not None
        if publish:
            assert jobs.complete(session, client, job_id, WORKER, [record])
        else:
            jobs.complete(session, _Silent(), job_id, WORKER, [record])  # type: ignore[arg-type]
    client.close()


class _Silent:
    """A Redis stand-in that drops what is published, as a lost event would be."""

    def publish(self, *_: object) -> int:
        return 0


def test_finished_job_streams_one_status_and_ends(client: TestClient, registered: Settings) -> None:
    """A finished job's stream sends its final status once and closes."""
    made = add_image(registered)
    with client.stream("GET", f"/api/jobs/{made['job_id']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        statuses = list(_statuses(response.iter_lines()))
    assert [s["state"] for s in statuses] == ["done"]
    assert statuses[0]["image_ids"] == [made["image_id"]]


def test_stream_follows_job_to_done(client: TestClient, registered: Settings) -> None:
    """A watcher gets the queued status, then the done status with images when the worker publishes."""
    job_id = _queue_job(client)
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        statuses = _statuses(response.iter_lines())
        first = next(statuses)
        assert (first["state"], first["queue_position"]) == ("queued", 1)
        _finish(registered, job_id, publish=True)
        last = next(s for s in statuses if s["finished"])
    assert last["state"] == "done"
    assert len(last["image_ids"]) == 1


def test_stream_passes_on_the_worker_preview(client: TestClient, registered: Settings) -> None:
    """A progress event's preview reaches the page with the step the database records."""
    job_id = _queue_job(client)
    preview = "data:image/webp;base64,UklGRg=="
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        statuses = _statuses(response.iter_lines())
        next(statuses)
        publisher = events.redis_client(registered.redis_url)
        with session_scope(registered.database_url) as session:
            assert jobs.claim(session, job_id, WORKER, 60) is not None
            jobs.renew_lease(session, job_id, WORKER, 60, step=1)
        events.publish(publisher, "progress", job_id, step=1, total=2, preview=preview)
        shown = next(s for s in statuses if s.get("preview"))
        publisher.close()
    assert (shown["preview"], shown["progress_step"]) == (preview, 1)


def test_stream_notices_unpublished_changes(
    client: TestClient, registered: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change nobody published (a lost event) still reaches the watcher by re-reading the job."""
    monkeypatch.setattr(events_route, "IDLE_REFRESH_SECONDS", 0.2)
    job_id = _queue_job(client)
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        statuses = _statuses(response.iter_lines())
        next(statuses)
        _finish(registered, job_id, publish=False)
        last = next(s for s in statuses if s["finished"])
    assert last["state"] == "done"


def test_stream_works_without_redis(registered: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """With Redis unreachable the stream falls back to re-reading the database."""
    monkeypatch.setattr(events_route, "IDLE_REFRESH_SECONDS", 0.2)
    with TestClient(create_app(registered)) as client:
        job_id = _queue_job(client)
    offline = registered.model_copy(update={"redis": RedisSettings(redis_url="redis://127.0.0.1:1/0")})
    with TestClient(create_app(offline)) as client, client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        statuses = _statuses(response.iter_lines())
        assert next(statuses)["state"] == "queued"
        _finish(registered, job_id, publish=False)
        assert next(s for s in statuses if s["finished"])["state"] == "done"


@pytest.mark.parametrize("job_id", ["777777", "9" * 5000])
def test_stream_of_unknown_job_is_404(client: TestClient, job_id: str) -> None:
    """An unknown job has no stream: a JSON 404."""
    response = client.get(f"/api/jobs/{job_id}/events")
    assert response.status_code == 404
    assert "error" in response.json()
