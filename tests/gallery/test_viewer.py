"""The viewer: anonymous for now, NSFW preference from a cookie, and safe redirects back."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from gallery.viewer import NSFW_COOKIE, current_viewer, safe_return_path, same_origin


def _request(headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw, "query_string": b""})


def test_viewer_is_anonymous_without_cookie() -> None:
    """No login yet: every viewer is a non-moderator who has not opted into NSFW."""
    viewer = current_viewer(_request({}))
    assert not viewer.is_moderator and not viewer.show_nsfw


def test_nsfw_cookie_opts_in() -> None:
    """The preference cookie set to 1 shows NSFW thumbnails unblurred."""
    assert current_viewer(_request({"cookie": f"{NSFW_COOKIE}=1"})).show_nsfw


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
