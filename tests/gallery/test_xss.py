"""Markup that people type (prompts, names, report reasons, search text) is shown as text on every
page that shows it, never run: the feed and its infinite-scroll fragment (feed.js inserts it as
HTML), search results and the search box, the image page with its lineage diffs, member and model
pages and their fragments, the job page, the draw form prefilled from a link, error and login
pages that repeat the URL, the moderators' queues, and the JSON API (served as JSON, never sniffed).

The payload both opens a tag and tries to break out of an attribute (`alt="{{ prompt }}"`), so an
escape that handles only one of the two fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from atelier.db import session_scope
from atelier.schema import Report, Role, User
from atelier.settings import Settings
from tests.gallery.factories import add_image, add_vote, log_in_as

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(2)>'
PAYLOAD = f"circle {SCRIPT} {BREAKOUT}"
RAW = ("<script>alert", "<img src=x")
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@dataclass(frozen=True)
class Seeded:
    image_id: int
    child_id: int
    hidden_id: int
    job_id: int
    owner_id: int
    voter_id: int


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """Escaping is the templates' work, whatever the database."""
    return sqlite_url


@pytest.fixture
def seeded(registered: Settings) -> Seeded:
    """Images whose prompts, negative prompts and owner name hold markup; a remix; a hidden one; a report."""
    made = add_image(registered, PAYLOAD, negative_prompt=PAYLOAD, owner=f"Ada {SCRIPT}")
    child = add_image(registered, f"{PAYLOAD}, sharp", parent=made["image_id"], owner=f"Ada {SCRIPT}")
    hidden = add_image(registered, PAYLOAD, hidden=True)
    voter_id = add_vote(registered, made["image_id"], f"Bo {SCRIPT}")
    with session_scope(registered.database_url) as session:
        reporter = User(name=f"Rita {BREAKOUT}")
        session.add(reporter)
        session.flush()
        session.add(Report(image_id=child["image_id"], reporter_id=reporter.id, reason=f"bad {SCRIPT} {BREAKOUT}"))
    return Seeded(made["image_id"], child["image_id"], hidden["image_id"], made["job_id"], made["owner_id"], voter_id)


PAGES: dict[str, Callable[[Seeded], str]] = {
    "feed": lambda s: "/",
    "feed fragment": lambda s: "/feed/page",
    "search results": lambda s: "/?q=circle",
    "search results fragment": lambda s: "/feed/page?q=circle",
    "image page": lambda s: f"/images/{s.image_id}",
    "lineage and diff": lambda s: f"/images/{s.child_id}",
    "member page": lambda s: f"/members/{s.owner_id}",
    "member page fragment": lambda s: f"/members/{s.owner_id}?part=more",
    "member votes": lambda s: f"/members/{s.voter_id}/votes",
    "model page": lambda s: "/models/checkpoint/tiny-test",
    "model page fragment": lambda s: "/models/checkpoint/tiny-test?part=more",
    "job page": lambda s: f"/jobs/{s.job_id}",
}


@pytest.mark.parametrize("page", list(PAGES))
def test_prompts_render_as_text(client: TestClient, seeded: Seeded, page: str) -> None:
    """The page shows the prompt, escaped: no tag of it reaches the HTML."""
    response = client.get(PAGES[page](seeded))
    assert response.status_code == 200, response.text[:300]
    for raw in RAW:
        assert raw not in response.text
    assert ESCAPED in response.text


REFLECTED = {
    "search box": f"/?q={quote(SCRIPT + BREAKOUT)}",
    "draw form prefill": f"/draw?prompt={quote(SCRIPT + BREAKOUT)}&negative_prompt={quote(SCRIPT)}",
    "error page": f"/images/{quote(SCRIPT)}",
    "model error page": f"/models/lora/{quote(SCRIPT + BREAKOUT)}",
    "login page": f"/login?next={quote('/' + SCRIPT + BREAKOUT)}&why={quote(SCRIPT)}",
}


@pytest.mark.parametrize("page", list(REFLECTED))
def test_url_text_repeated_on_a_page_is_escaped(client: TestClient, page: str) -> None:
    """Markup in a link's path or query, which the page repeats (form values, messages), stays text."""
    response = client.get(REFLECTED[page])
    assert response.status_code < 500
    for raw in RAW:
        assert raw not in response.text


MODERATOR_PAGES: dict[str, Callable[[Seeded], str]] = {
    "report queue": lambda s: "/mod/reports",
    "hidden images": lambda s: "/mod/hidden",
    "hidden image page": lambda s: f"/images/{s.hidden_id}",
}


@pytest.mark.parametrize("page", list(MODERATOR_PAGES))
def test_moderator_pages_render_prompts_and_reasons_as_text(
    client: TestClient, registered: Settings, seeded: Seeded, page: str
) -> None:
    """What members typed (prompts, names, report reasons) is text on the moderators' pages too."""
    log_in_as(client, registered, "Mona", Role.MODERATOR)
    response = client.get(MODERATOR_PAGES[page](seeded), follow_redirects=False)
    assert response.status_code == 200, response.text[:300]
    for raw in RAW:
        assert raw not in response.text
    assert ESCAPED in response.text


@pytest.mark.parametrize("path", ["/api/images", "/api/images/{image_id}", "/api/jobs/{job_id}"])
def test_json_api_is_never_html(client: TestClient, seeded: Seeded, path: str) -> None:
    """API answers are JSON that browsers may not sniff as HTML; prompts come back exactly as typed."""
    response = client.get(path.format(image_id=seeded.image_id, job_id=seeded.job_id))
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    if path != "/api/jobs/{job_id}":
        body = response.json()
        items = body.get("items", [body])
        assert next(item["prompt"] for item in items if item["id"] == seeded.image_id) == PAYLOAD
