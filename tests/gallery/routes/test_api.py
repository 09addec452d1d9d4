"""The JSON API: images (feed, search, filters, keyset pages, one image with recipe, lineage and
votes), jobs, models, errors in one shape, the OpenAPI document, and the health check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from atelier.recipe import LoraUse
from atelier.schema import ModelKind, Role
from atelier.settings import Settings
from tests.gallery.factories import add_failed_job, add_image, add_model, add_vote, add_votes, job_count
from tests.gallery.test_authorization import log_in_as

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


# -- images ----------------------------------------------------------------------------------------


def _ago(minutes: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def _prompts(body: dict[str, Any]) -> list[str]:
    return [item["prompt"] for item in body["items"]]


def test_list_images_newest_first_with_links(client: TestClient, registered: Settings) -> None:
    """GET /api/images answers the feed's images newest first, each with its owner, score and links."""
    old = add_image(registered, "a red circle", created_at=_ago(10), owner="Ada")
    add_image(registered, "a blue square", created_at=_ago(1))
    add_votes(registered, old["image_id"], 1, 1)
    body = client.get("/api/images").json()
    assert _prompts(body) == ["a blue square", "a red circle"]
    item = body["items"][1]
    assert item["owner"] == {"id": old["owner_id"], "name": "Ada", "url": f"/members/{old['owner_id']}"}
    assert (item["score"], item["voted"], item["checkpoint"]) == (2, False, "tiny-test")
    assert item["api_url"] == f"/api/images/{old['image_id']}"
    assert item["thumbnail_url"] == f"/files/{old['thumbnail_path']}"
    assert body["next_cursor"] is None


def test_list_images_leaves_out_hidden_images(client: TestClient, registered: Settings) -> None:
    """A hidden image is not in the API's feed for visitors."""
    add_image(registered, "shown")
    add_image(registered, "hidden one", hidden=True)
    assert _prompts(client.get("/api/images").json()) == ["shown"]


def test_moderator_lists_hidden_images(client: TestClient, registered: Settings) -> None:
    """A moderator's API feed includes hidden images, marked hidden."""
    add_image(registered, "hidden one", hidden=True)
    log_in_as(client, registered, "Mo", Role.MODERATOR)
    items = client.get("/api/images").json()["items"]
    assert [(item["prompt"], item["hidden"]) for item in items] == [("hidden one", True)]


def test_list_images_searches_prompts(client: TestClient, registered: Settings) -> None:
    """`q` finds the images whose prompt has every word, as the feed's search does."""
    add_image(registered, "a red circle on a blue background")
    add_image(registered, "a green square")
    assert _prompts(client.get("/api/images", params={"q": "red circle"}).json()) == [
        "a red circle on a blue background"
    ]


def test_list_images_filters_by_member(client: TestClient, registered: Settings) -> None:
    """The feed's filters apply: `member` keeps the images that member drew."""
    add_image(registered, "by Ada", owner="Ada")
    add_image(registered, "by Bo", owner="Bo")
    assert _prompts(client.get("/api/images", params={"member": "ada"}).json()) == ["by Ada"]


def test_list_images_sorts_top_by_score(client: TestClient, registered: Settings) -> None:
    """`sort=top-all` orders by the sum of votes, ties newest first."""
    low = add_image(registered, "low", created_at=_ago(3))
    high = add_image(registered, "high", created_at=_ago(2))
    add_image(registered, "none", created_at=_ago(1))
    add_votes(registered, low["image_id"], 1)
    add_votes(registered, high["image_id"], 1, 1, 1)
    assert _prompts(client.get("/api/images", params={"sort": "top-all"}).json()) == ["high", "low", "none"]


def test_list_images_pages_with_the_cursor(client: TestClient, registered: Settings) -> None:
    """Following `next_url` walks every image once, `limit` at a time, and the last page has no cursor."""
    for n in range(5):
        add_image(registered, f"image {n}", created_at=_ago(10 - n))
    seen: list[str] = []
    url: str | None = "/api/images?limit=2"
    pages = 0
    while url:
        body = client.get(url).json()
        assert len(body["items"]) <= 2
        seen += _prompts(body)
        url = body["next_url"]
        pages += 1
    assert seen == [f"image {n}" for n in reversed(range(5))]
    assert pages == 3


def test_list_images_next_url_keeps_the_filters(client: TestClient, registered: Settings) -> None:
    """A next page of a search is the same search, continued."""
    for n in range(3):
        add_image(registered, f"red circle {n}", created_at=_ago(10 - n))
    add_image(registered, "blue square", created_at=_ago(1))
    first = client.get("/api/images", params={"q": "red", "limit": 2}).json()
    assert "q=red" in first["next_url"]
    assert _prompts(client.get(first["next_url"]).json()) == ["red circle 0"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"size": "big"}, "size"),
        ({"sort": "best"}, "sort"),
        ({"from": "yesterday"}, "from"),
        ({"sampler": "Magic"}, "sampler"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_list_images_bad_filter_is_422_naming_it(client: TestClient, params: dict[str, str], field: str) -> None:
    """A bad filter is a 422 naming the parameter, with the feed's message."""
    response = client.get("/api/images", params=params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"].startswith(f"{field}: ")
    assert field in error["fields"]


def test_list_images_reports_every_bad_filter(client: TestClient) -> None:
    """Several bad filters are all named at once, as the search form marks each."""
    response = client.get("/api/images", params={"size": "big", "sort": "best"})
    assert set(response.json()["error"]["fields"]) == {"size", "sort"}


def test_list_images_cursor_of_another_sort_is_422(client: TestClient, registered: Settings) -> None:
    """A cursor from the newest-first order cannot continue a top order."""
    for n in range(2):
        add_image(registered, f"image {n}")
    cursor = client.get("/api/images", params={"limit": 1}).json()["next_cursor"]
    response = client.get("/api/images", params={"cursor": cursor, "sort": "top-week"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "cursor"


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_list_images_bad_limit_is_422(client: TestClient, limit: str) -> None:
    """`limit` is a whole number from 1 to 100, else a 422 naming it."""
    response = client.get("/api/images", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "limit"


def test_list_images_search_without_words_is_422(client: TestClient, registered: Settings) -> None:
    """A search of punctuation alone has nothing to look for: 422 naming `q`."""
    add_image(registered)
    response = client.get("/api/images", params={"q": "!!!"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "q"


def test_read_image_has_recipe_with_its_own_seed(client: TestClient, registered: Settings) -> None:
    """GET /api/images/{id} gives the recipe (with the image's seed), parameters and infotext."""
    made = add_image(registered, "a red circle", seed=77, negative_prompt="blurry", steps=12)
    body = client.get(f"/api/images/{made['image_id']}").json()
    assert (body["prompt"], body["negative_prompt"]) == ("a red circle", "blurry")
    assert (body["recipe"]["seed"], body["recipe"]["steps"], body["recipe"]["checkpoint"]) == (77, 12, "tiny-test")
    assert {"label": "Steps", "value": "12"} in body["parameters"]
    assert body["infotext"] == made["infotext"]
    assert body["job_url"] == f"/api/jobs/{made['job_id']}"


def test_read_image_has_vote_tally(client: TestClient, registered: Settings) -> None:
    """The image's votes: the score, and whether this member voted."""
    image_id = add_image(registered, owner="Ada")["image_id"]
    add_votes(registered, image_id, 1, 1)
    add_vote(registered, image_id, "Bo")
    log_in_as(client, registered, "Bo")
    votes = client.get(f"/api/images/{image_id}").json()["votes"]
    assert votes == {"score": 3, "voted": True, "vote_url": f"/api/images/{image_id}/vote"}


def test_read_image_has_parent_with_diff(client: TestClient, registered: Settings) -> None:
    """A remix names its parent and what it changed from it."""
    parent = add_image(registered, "a red circle, masterpiece", seed=1)
    child = add_image(registered, "a (red:1.3) circle, sharp", seed=2, parent=parent["image_id"])
    lineage = client.get(f"/api/images/{child['image_id']}").json()["lineage"]
    assert lineage["parent_id"] == parent["image_id"]
    (ancestor,) = lineage["ancestors"]
    assert (ancestor["relation"], ancestor["image"]["id"]) == ("parent", parent["image_id"])
    diff = ancestor["diff"]
    assert diff["prompt"]["added"] == [{"text": "sharp", "weight": 1.0}]
    assert diff["prompt"]["removed"] == [{"text": "masterpiece", "weight": 1.0}]
    assert diff["prompt"]["reweighted"] == [{"text": "red", "before": 1.0, "after": 1.3}]
    assert {"name": "seed", "label": "Seed", "before": "1", "after": "2"} in diff["settings"]


def test_read_image_lists_children(client: TestClient, registered: Settings) -> None:
    """An image lists its remixes with what each changed, LoRAs included."""
    parent = add_image(registered, "a red circle", seed=5)
    child = add_image(registered, "a red circle", seed=5, parent=parent["image_id"], loras=(LoraUse("paper", 0.7),))
    lineage = client.get(f"/api/images/{parent['image_id']}").json()["lineage"]
    assert lineage["parent_id"] is None
    (remix,) = lineage["children"]
    assert (remix["relation"], remix["image"]["id"]) == ("child", child["image_id"])
    assert [(c["name"], c["kind"], c["after"]["weight"]) for c in remix["diff"]["loras"]] == [("paper", "added", 0.7)]


def test_read_image_leaves_hidden_remixes_out(client: TestClient, registered: Settings) -> None:
    """A hidden remix is not in its parent's lineage for visitors."""
    parent = add_image(registered, "a red circle")
    add_image(registered, "a red circle, hidden", parent=parent["image_id"], hidden=True)
    assert client.get(f"/api/images/{parent['image_id']}").json()["lineage"]["children"] == []


def test_read_hidden_image_is_404(client: TestClient, registered: Settings) -> None:
    """A hidden image does not exist for visitors: 404 in JSON."""
    image_id = add_image(registered, hidden=True)["image_id"]
    response = client.get(f"/api/images/{image_id}")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"image {image_id} does not exist"


@pytest.mark.parametrize("raw", ["31337", "abc", "-1", "0", "9" * 5000])
def test_read_unknown_image_is_404(client: TestClient, raw: str) -> None:
    """An id that names no image, or is no id at all, is a JSON 404."""
    response = client.get(f"/api/images/{raw}")
    assert response.status_code == 404
    assert "message" in response.json()["error"]


# -- models ----------------------------------------------------------------------------------------


def test_list_models_names_kinds_and_pages(client: TestClient, registered: Settings) -> None:
    """GET /api/models lists registered checkpoints and LoRAs with their facts and page links."""
    add_model(registered, ModelKind.LORA, "paper cut", trigger_words=["papercut"], enabled=False)
    models = {model["name"]: model for model in client.get("/api/models").json()}
    lora = models["paper cut"]
    assert (lora["kind"], lora["enabled"], lora["trigger_words"]) == ("lora", False, ["papercut"])
    assert lora["url"] == "/models/lora/paper%20cut"
    assert (models["tiny-test"]["kind"], models["tiny-test"]["is_default"]) == ("checkpoint", True)


def test_list_models_of_one_kind(client: TestClient, registered: Settings) -> None:
    """`kind` keeps the models of that kind."""
    add_model(registered, ModelKind.LORA, "paper")
    assert [model["name"] for model in client.get("/api/models", params={"kind": "lora"}).json()] == ["paper"]


def test_list_models_of_unknown_kind_is_422(client: TestClient) -> None:
    """An unknown kind is a 422 naming `kind` and the choices."""
    response = client.get("/api/models", params={"kind": "sampler"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "kind" and "checkpoint" in error["message"]


# -- the OpenAPI document --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "shape"),
    [
        ("get", "/api/images", "200", "ImagePage"),
        ("get", "/api/images/{image_id}", "200", "ImageDetail"),
        ("get", "/api/images/{image_id}", "404", "ErrorResponse"),
        ("get", "/api/models", "200", "ModelOut"),
        ("get", "/api/jobs/{job_id}", "200", "JobStatus"),
        ("post", "/api/jobs", "201", "JobStatus"),
        ("post", "/api/jobs", "422", "ErrorResponse"),
    ],
)
def test_openapi_documents_response_shapes(client: TestClient, method: str, path: str, status: str, shape: str) -> None:
    """/api/openapi.json names the shape each API answer has, errors included."""
    spec = client.get("/api/openapi.json").json()
    content = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    assert shape in str(content)
    assert shape in spec["components"]["schemas"]
