"""`POST /api/prompt/check`: every problem at once, with A1111's token counts, changing nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from atelier.db import session_scope
from atelier.services import moderation
from atelier.settings import Settings
from tests.gallery.factories import job_count


def test_counts_tokens_and_lists_every_problem(client: TestClient, registered: Settings) -> None:
    with session_scope(registered.database_url) as session:
        moderation.ban(session, "gore", "no gore, see #rules")
    answer = client.post("/api/prompt/check", json={"prompt": "a red circle, gore <lora:ink:1>"}).json()
    assert answer["ok"] is False and len(answer["errors"]) == 2
    assert "'gore' is not allowed here: no gore, see #rules" in answer["errors"][0]
    assert "unknown LoRA 'ink'" in answer["errors"][1]
    assert answer["tokens"]["prompt"] and answer["tokens"]["negative_prompt"] == []
    assert job_count(registered) == 0


def test_a_clean_prompt_is_ok(client: TestClient, registered: Settings) -> None:
    answer = client.post("/api/prompt/check", json={"prompt": "a red circle", "steps": "x"}).json()
    assert answer["ok"] is True and answer["errors"] == []


def test_unknown_checkpoint_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/api/prompt/check", json={"prompt": "a", "checkpoint": "nope"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "checkpoint"
