"""Drawing as the logged-in member: the job is theirs (so fair share and quotas apply), and once
Discord login is configured an anonymous visitor must log in to draw or re-render."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import Job, User
from atelier.services.logins import LOCAL_OWNER_NAME
from atelier.settings import Settings
from tests.gallery.conftest import log_in_locally, log_in_with_discord
from tests.gallery.factories import add_image, job_count

FORM = {"prompt": "a red circle", "steps": "4", "width": "64", "height": "64", "seed": "42", "count": "1"}


def job_owners(settings: Settings) -> list[str | None]:
    with session_scope(settings.database_url) as session:
        jobs = session.scalars(select(Job).order_by(Job.id))
        return [job.owner.name if job.owner else None for job in jobs]


def test_draw_form_job_belongs_to_the_discord_member(oauth_client: TestClient, oauth_settings: Settings) -> None:
    """A member logged in with Discord draws; the job's owner is their row."""
    log_in_with_discord(oauth_client)
    response = oauth_client.post("/draw", data=FORM)
    assert response.status_code == 303
    assert job_owners(oauth_settings) == ["Ada"]


def test_api_job_belongs_to_the_member(local_client: TestClient, registered: Settings) -> None:
    """The JSON API, called with the member's session cookie, queues the job as theirs."""
    log_in_locally(local_client)
    response = local_client.post("/api/jobs", json={"prompt": "a red circle", "steps": 4, "width": 64, "height": 64})
    assert response.status_code == 201
    assert job_owners(registered) == [LOCAL_OWNER_NAME]


def test_remix_rerender_belongs_to_the_member(local_client: TestClient, registered: Settings) -> None:
    """Re-rendering an image as a logged-in member makes the new job theirs."""
    image_id = add_image(registered, owner="Ada")["image_id"]
    log_in_locally(local_client)
    assert local_client.post(f"/images/{image_id}/rerender-exact").status_code == 303
    assert job_owners(registered) == ["Ada", LOCAL_OWNER_NAME]


def test_anonymous_draw_refused_once_discord_login_is_configured(
    oauth_client: TestClient, oauth_settings: Settings
) -> None:
    """With Discord login configured, an anonymous draw is refused (403) and queues nothing."""
    response = oauth_client.post("/draw", data=FORM)
    assert response.status_code == 403 and "log in" in response.text
    api = oauth_client.post("/api/jobs", json={"prompt": "a red circle"})
    assert api.status_code == 403 and "log in" in api.json()["error"]["message"]
    assert job_count(oauth_settings) == 0


def test_form_asks_anonymous_visitors_to_log_in(oauth_client: TestClient) -> None:
    """The draw form shows a login link instead of the Draw button to a visitor who must log in."""
    html = oauth_client.get("/").text
    assert 'data-role="login-to-draw"' in html
    log_in_with_discord(oauth_client)
    assert 'data-role="login-to-draw"' not in oauth_client.get("/").text


def test_anonymous_draw_allowed_without_discord_login(client: TestClient, registered: Settings) -> None:
    """In the local default (no Discord login configured) anyone may still draw, as nobody."""
    assert client.post("/draw", data=FORM, follow_redirects=False).status_code == 303
    assert job_owners(registered) == [None]
    with session_scope(registered.database_url) as session:
        assert session.scalars(select(User)).all() == []


def test_cross_site_draw_is_refused(local_client: TestClient, registered: Settings) -> None:
    """A draw form or API call posted from another site's page is refused and queues nothing."""
    log_in_locally(local_client)
    evil = {"origin": "https://evil.example"}
    assert local_client.post("/draw", data=FORM, headers=evil).status_code == 403
    assert local_client.post("/api/jobs", json={"prompt": "a red circle"}, headers=evil).status_code == 403
    assert job_count(registered) == 0
