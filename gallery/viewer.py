"""Who is looking: the one place that decides what a request may see and do.

`current_viewer` reads the session cookie (see `gallery.login`) and returns the logged-in member,
a moderator when their role says so, or an anonymous visitor; every query that takes a `Viewer`
follows. A visitor also chooses whether NSFW thumbnails are shown unblurred (a cookie).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from atelier.errors import Forbidden
from atelier.services.logins import logged_in
from atelier.settings import Settings
from gallery.deps import SessionDep, SettingsDep
from gallery.login import SESSION_COOKIE, session_token

NSFW_COOKIE = "atelier_show_nsfw"
NSFW_COOKIE_MAX_AGE = 365 * 24 * 3600


@dataclass(frozen=True)
class Viewer:
    """What a request is allowed and has chosen to see."""

    is_moderator: bool = False
    show_nsfw: bool = False
    user_id: int | None = None
    name: str = ""
    # False when this visitor must log in before drawing (Discord login is configured).
    may_draw: bool = True

    @property
    def logged_in(self) -> bool:
        return self.user_id is not None


ANONYMOUS = Viewer()


def shows_nsfw(cookies: Mapping[str, str]) -> bool:
    """The visitor's choice to see NSFW thumbnails unblurred, logged in or not: the one preference
    an anonymous visitor's pages depend on (the page cache keys them by it)."""
    return cookies.get(NSFW_COOKIE) == "1"


def current_viewer(request: Request, session: SessionDep, settings: SettingsDep) -> Viewer:
    """The viewer of this request: the member of a live session, else anonymous; with their NSFW
    preference. Kept on `request.state` so the page header can say who is logged in."""
    show_nsfw = shows_nsfw(request.cookies)
    token = session_token(request, settings)
    member = logged_in(session, token) if token else None
    if member is None:
        viewer = Viewer(show_nsfw=show_nsfw, may_draw=not settings.web.oauth_configured)
    else:
        viewer = Viewer(member.moderator, show_nsfw, member.user_id, member.name)
    request.state.viewer = viewer
    return viewer


async def _viewer_dependency(request: Request, session: SessionDep, settings: SettingsDep) -> Viewer:
    """`current_viewer` for a route: without a session cookie it needs no database, so it runs on the
    event loop; with one, the session lookup runs in a worker thread."""
    if SESSION_COOKIE not in request.cookies:
        return current_viewer(request, session, settings)
    return await run_in_threadpool(current_viewer, request, session, settings)


ViewerDep = Annotated[Viewer, Depends(_viewer_dependency)]


def drawing_owner(viewer: Viewer, settings: Settings) -> int | None:
    """Whose job a render from this viewer is (fair share and quotas count per member).

    Anonymous drawing is for the local default only: once Log in with Discord is configured, a
    visitor must log in, or nobody's quota would apply to them."""
    if viewer.user_id is not None:
        return viewer.user_id
    if settings.web.oauth_configured:
        raise Forbidden("log in with Discord to draw; your renders then count toward your own share")
    return None


def safe_return_path(raw: str | None) -> str:
    """A same-site path to send the browser back to; anything else (another host, `//evil`, a
    backslash trick) becomes the feed, so a preference form cannot be used as an open redirect."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw or len(raw) > 2000:
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or any(ord(char) < 32 for char in raw):
        return "/"
    return raw


def same_origin(request: Request) -> bool:
    """False when a browser says the request was sent from another site (Origin, Sec-Fetch-Site).

    Browsers send Origin with every cross-site POST, so checking it stops another site from
    voting or drawing with a visitor's cookies; clients that send neither header (curl, tests) are
    not browsers carrying someone else's cookies, and pass."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")
