"""The viewer: who is logged in (anonymous without a valid session), the NSFW preference from a
cookie, who may draw, and safe redirects back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session
from starlette.requests import Request

from atelier.db import session_factory
from atelier.errors import Forbidden
from atelier.services import logins
from atelier.settings import Settings, WebSettings
from gallery.login import SESSION_COOKIE, sign
from gallery.viewer import ANONYMOUS, NSFW_COOKIE, Viewer, current_viewer, drawing_owner, safe_return_path, same_origin

SETTINGS = Settings(web=WebSettings(secret_key="viewer-test-key"))
OAUTH = Settings(web=WebSettings(secret_key="viewer-test-key", oauth_client_id="1", oauth_client_secret="s"))


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    with session_factory(sqlite_url)() as opened:
        yield opened


def _request(headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw, "query_string": b""})


def test_viewer_is_anonymous_without_cookie(session: Session) -> None:
    """Without a session cookie the viewer is an anonymous non-moderator who has not opted into NSFW."""
    viewer = current_viewer(_request({}), session, SETTINGS)
    assert not viewer.logged_in and not viewer.is_moderator and not viewer.show_nsfw


def test_nsfw_cookie_opts_in(session: Session) -> None:
    """The preference cookie set to 1 shows NSFW thumbnails unblurred."""
    assert current_viewer(_request({"cookie": f"{NSFW_COOKIE}=1"}), session, SETTINGS).show_nsfw


def test_session_cookie_names_the_member(session: Session) -> None:
    """A signed cookie of a live session makes the viewer that member (an admin moderates)."""
    owner = logins.local_owner(session)
    token = logins.start_session(session, owner.id, timedelta(days=1))
    cookie = sign("viewer-test-key", "session", token)
    viewer = current_viewer(_request({"cookie": f"{SESSION_COOKIE}={cookie}"}), session, SETTINGS)
    assert (viewer.user_id, viewer.name, viewer.is_moderator) == (owner.id, logins.LOCAL_OWNER_NAME, True)


def test_cookie_signed_with_another_key_is_anonymous(session: Session) -> None:
    """A session cookie not signed with this gallery's secret key logs nobody in."""
    owner = logins.local_owner(session)
    token = logins.start_session(session, owner.id, timedelta(days=1))
    forged = sign("some-other-key", "session", token)
    assert not current_viewer(_request({"cookie": f"{SESSION_COOKIE}={forged}"}), session, SETTINGS).logged_in


def test_anonymous_drawing_only_without_discord_login() -> None:
    """Without Discord login anyone draws (no owner); with it, anonymous drawing is refused."""
    assert drawing_owner(ANONYMOUS, SETTINGS) is None
    with pytest.raises(Forbidden, match="log in"):
        drawing_owner(ANONYMOUS, OAUTH)
    assert drawing_owner(Viewer(user_id=5), OAUTH) == 5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/?q=red&sort=top-day", "/?q=red&sort=top-day"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_return_path_stays_on_this_site(raw: str | None, expected: str) -> None:
    """Only a same-site path is followed back; anything else goes to the feed."""
    assert safe_return_path(raw) == expected


def test_cross_site_origin_is_refused() -> None:
    """A form posted from another site (Origin header) is refused; same host or no Origin passes."""
    assert not same_origin(_request({"host": "atelier.local", "origin": "https://evil.example"}))
    assert same_origin(_request({"host": "atelier.local", "origin": "https://atelier.local"}))
    assert same_origin(_request({"host": "atelier.local"}))


def test_cross_site_fetch_metadata_is_refused() -> None:
    """A browser that says the request is cross-site (Sec-Fetch-Site) is refused even without Origin."""
    assert not same_origin(_request({"host": "atelier.local", "sec-fetch-site": "cross-site"}))
    assert same_origin(_request({"host": "atelier.local", "sec-fetch-site": "same-origin"}))
