"""The JSON API: create and read jobs, errors in one shape, and the health check."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from atelier.settings import Settings
from tests.gallery.factories import add_failed_job, add_image, job_count

GOOD = {"prompt": "a red circle", "steps": 4, "width": 64, "height": 64, "seed": 7}


def test_create_job_returns_201_with_queue_position(client: TestClient, registered: Settings) -> None:
    """POST /api/jobs queues one job and answers 201 with its id, state, position and ETA."""
    response = client.post("/api/jobs", json=GOOD)
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "queued"
    assert body["queue_position"] == 1
    assert body["eta_seconds"] > 0
    assert response.headers["location"] == f"/api/jobs/{body['id']}"
    assert job_count(registered) == 1


def test_read_job_reports_progress(client: TestClient) -> None:
    """GET /api/jobs/{id} reports state, progress, queue position and no images while queued."""
    job_id = client.post("/api/jobs", json=GOOD).json()["id"]
    body = client.get(f"/api/jobs/{job_id}").json()
    assert body["id"] == job_id
    assert (body["state"], body["finished"]) == ("queued", False)
    assert (body["progress_step"], body["progress_total"]) == (0, 4)
    assert body["queue_position"] == 1
    assert body["error"] is None
    assert body["image_ids"] == []


def test_read_done_job_lists_images(client: TestClient, registered: Settings) -> None:
    """A finished job lists its image ids with page, file and thumbnail urls."""
    made = add_image(registered)
    body = client.get(f"/api/jobs/{made['job_id']}").json()
    assert body["state"] == "done"
    assert body["image_ids"] == [made["image_id"]]
    image = body["images"][0]
    assert image["url"] == f"/images/{made['image_id']}"
    assert image["file_url"] == f"/files/{made['file_path']}"
    assert image["thumbnail_url"] == f"/files/{made['thumbnail_path']}"


def test_read_failed_job_reports_error(client: TestClient, registered: Settings) -> None:
    """A failed job reports its reason and no queue position."""
    job_id = add_failed_job(registered, "ValueError: bad latent")
    body = client.get(f"/api/jobs/{job_id}").json()
    assert (body["state"], body["finished"], body["error"]) == ("failed", True, "ValueError: bad latent")
    assert body["queue_position"] is None


def test_read_job_leaves_out_hidden_images(client: TestClient, registered: Settings) -> None:
    """A hidden image is not listed with its job."""
    made = add_image(registered, hidden=True)
    assert client.get(f"/api/jobs/{made['job_id']}").json()["image_ids"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "prompt": ""}, "prompt"),
        ({**GOOD, "prompt": "x" * 20000}, "prompt"),
        ({**GOOD, "steps": 0}, "steps"),
        ({**GOOD, "steps": 10000}, "steps"),
        ({**GOOD, "steps": "many"}, "steps"),
        ({**GOOD, "width": 100}, "width"),
        ({**GOOD, "checkpoint": "no-such-model"}, "checkpoint"),
        ({**GOOD, "prompt": 5}, "prompt"),
        ({**GOOD, "cfg_scale": True}, "cfg_scale"),
        ({}, "prompt"),
    ],
)
def test_create_job_bad_input_is_422_naming_field(
    client: TestClient, registered: Settings, body: dict[str, object], field: str
) -> None:
    """Each bad field gives 422 `{"error": {"field", "message"}}` and queues nothing."""
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"].startswith(f"{field}:")
    assert job_count(registered) == 0


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"", b"\xff\xfe", b'{"steps": ' + b"9" * 5000 + b"}"])
def test_create_job_with_non_object_body_is_422(client: TestClient, registered: Settings, raw: bytes) -> None:
    """A body that is not a JSON object is a 422 naming the body."""
    response = client.post("/api/jobs", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body"
    assert job_count(registered) == 0


def test_create_job_with_lone_surrogate_is_422(client: TestClient, registered: Settings) -> None:
    """A prompt that JSON-escapes a lone surrogate is refused, since nothing downstream can store it."""
    body = b'{"prompt": "a cat \\ud800", "steps": 2, "width": 64, "height": 64}'
    response = client.post("/api/jobs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "prompt"
    assert job_count(registered) == 0


@pytest.mark.parametrize(
    "path", ["/api/jobs/31337", "/api/jobs/99999999999999999999", "/api/jobs/" + "9" * 5000, "/api/nothing"]
)
def test_unknown_api_path_is_json_404(client: TestClient, path: str) -> None:
    """Unknown jobs and paths under /api answer 404 in JSON."""
    response = client.get(path)
    assert response.status_code == 404
    assert "message" in response.json()["error"]


def test_wrong_method_is_json_405(client: TestClient) -> None:
    """A wrong method on an API path is a JSON 405, not a page."""
    response = client.delete("/api/jobs/1")
    assert response.status_code == 405
    assert "error" in response.json()


def test_healthz_checks_database(client: TestClient) -> None:
    """/healthz answers 200 {"status": "ok"} when the database answers."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
