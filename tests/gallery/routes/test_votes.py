"""Voting over HTTP: the JSON route and the no-JavaScript form, login required, no self-votes, the
rate limit, cross-site refusal, and the button with its count on cards and image pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from atelier.db import session_scope
from atelier.schema import Vote
from atelier.services.logins import LOCAL_OWNER_NAME
from atelier.settings import Settings, load_settings
from gallery.app import create_app
from tests.gallery.conftest import LOOPBACK, log_in_locally
from tests.gallery.factories import add_image, add_votes


def vote_count(settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        return int(session.scalar(select(func.count()).select_from(Vote)) or 0)


@pytest.fixture
def member(local_client: TestClient) -> TestClient:
    """A logged-in member (the local owner, through the real login route)."""
    log_in_locally(local_client)
    return local_client


def test_vote_toggles_through_the_api(member: TestClient, registered: Settings) -> None:
    """The first POST votes (score 1), the second takes the vote back (score 0)."""
    image_id = add_image(registered, owner="Ada")["image_id"]
    first = member.post(f"/api/images/{image_id}/vote")
    assert first.status_code == 200 and first.json() == {"image_id": image_id, "voted": True, "score": 1}
    assert member.post(f"/api/images/{image_id}/vote").json() == {"image_id": image_id, "voted": False, "score": 0}
    assert vote_count(registered) == 0


def test_vote_form_works_without_javascript(member: TestClient, registered: Settings) -> None:
    """The plain form records the vote and sends the browser back to the page it came from."""
    image_id = add_image(registered, owner="Ada")["image_id"]
    response = member.post(f"/images/{image_id}/vote", data={"next": "/?sort=top-week"})
    assert response.status_code == 303 and response.headers["location"] == "/?sort=top-week"
    assert vote_count(registered) == 1


def test_anonymous_vote_is_asked_to_log_in(client: TestClient, registered: Settings) -> None:
    """Without a login the API answers 401 with a message, and the form leads to the login page."""
    image_id = add_image(registered, owner="Ada")["image_id"]
    response = client.post(f"/api/images/{image_id}/vote")
    assert response.status_code == 401 and response.json()["error"]["message"] == "log in to vote"
    form = client.post(f"/images/{image_id}/vote", data={"next": f"/images/{image_id}"}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"].startswith("/login?next=%2Fimages%2F")
    assert "Log in to vote" in client.get(form.headers["location"]).text
    assert vote_count(registered) == 0


def test_no_vote_for_your_own_image(member: TestClient, registered: Settings) -> None:
    """Voting for an image you drew is refused (403) with a message; the card shows no button."""
    image_id = add_image(registered, owner=LOCAL_OWNER_NAME)["image_id"]
    response = member.post(f"/api/images/{image_id}/vote")
    assert response.status_code == 403 and "yours" in response.json()["error"]["message"]
    assert vote_count(registered) == 0
    assert 'title="votes on your image"' in member.get("/").text


def test_vote_rate_limit(registered: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the per-minute limit a vote is refused with 429 and when to try again."""
    monkeypatch.setenv("ATELIER_VOTES_PER_MINUTE", "2")
    image_ids = [add_image(registered, f"a red circle {n}", owner="Ada")["image_id"] for n in range(3)]
    with TestClient(create_app(load_settings()), follow_redirects=False, **LOOPBACK) as local:  # type: ignore[arg-type]
        log_in_locally(local)
        assert [local.post(f"/api/images/{i}/vote").status_code for i in image_ids] == [200, 200, 429]
        assert "try again in" in local.post(f"/api/images/{image_ids[2]}/vote").json()["error"]["message"]
    assert vote_count(registered) == 2


def test_cross_site_vote_is_refused(member: TestClient, registered: Settings) -> None:
    """A vote posted from another site's page (Origin) is refused and not recorded."""
    image_id = add_image(registered, owner="Ada")["image_id"]
    response = member.post(f"/images/{image_id}/vote", headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert vote_count(registered) == 0


def test_hidden_or_missing_image_is_404(member: TestClient, registered: Settings) -> None:
    """Votes for an image that does not exist (or a malformed id) are 404, never 500."""
    for path in ("/api/images/99999/vote", "/api/images/x1/vote", "/api/images/" + "9" * 40 + "/vote"):
        assert member.post(path).status_code == 404


def test_vote_changes_get_nothing(member: TestClient, registered: Settings) -> None:
    """GET on a vote route is not allowed: no state changes on GET."""
    image_id = add_image(registered, owner="Ada")["image_id"]
    assert member.get(f"/images/{image_id}/vote").status_code == 405
    assert vote_count(registered) == 0


def test_card_button_shows_count_and_your_vote(member: TestClient, registered: Settings) -> None:
    """Each card has a vote button with the tally, pressed when the viewer has voted."""
    image_id = add_image(registered, owner="Ada")["image_id"]
    add_votes(registered, image_id, 1, 1)
    html = member.get("/").text
    assert f'action="/images/{image_id}/vote"' in html and 'aria-pressed="false"' in html
    member.post(f"/api/images/{image_id}/vote")
    html = member.get("/").text
    assert 'aria-pressed="true"' in html
    assert re.search(r'data-role="vote-count">3</span>', html)


def test_image_page_has_the_vote_button(client: TestClient, registered: Settings) -> None:
    """The image page shows the vote button with the count, and loads the vote script."""
    image_id = add_image(registered, owner="Ada")["image_id"]
    add_votes(registered, image_id, 1)
    html = client.get(f"/images/{image_id}").text
    assert f'data-api="/api/images/{image_id}/vote"' in html
    assert 'data-role="vote-count">1</span>' in html and "/static/vote.js" in html


def test_top_sort_counts_web_votes(member: TestClient, registered: Settings) -> None:
    """A web vote moves an image up the "top" feed (the one tally the feed sums)."""
    low = add_image(registered, "a green square", owner="Ada")["image_id"]
    add_image(registered, "a yellow triangle", owner="Bo")  # newer: first in "new", second in "top"
    member.post(f"/api/images/{low}/vote")
    html = member.get("/", params={"sort": "top-all"}).text
    assert html.index("green square") < html.index("yellow triangle")
