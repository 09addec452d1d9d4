"""Who is looking: the one place that decides what a request may see.

There is no login yet, so every viewer is an anonymous non-moderator; the only thing a visitor
chooses is whether NSFW thumbnails are shown unblurred (a cookie). When login arrives, the session
lookup goes into `current_viewer` and every query that takes a `Viewer` follows without change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

NSFW_COOKIE = "atelier_show_nsfw"
NSFW_COOKIE_MAX_AGE = 365 * 24 * 3600


@dataclass(frozen=True)
class Viewer:
    """What a request is allowed and has chosen to see."""

    is_moderator: bool = False
    show_nsfw: bool = False


ANONYMOUS = Viewer()


def current_viewer(request: Request) -> Viewer:
    """The viewer of this request: anonymous (no login yet), with their NSFW preference."""
    return Viewer(is_moderator=False, show_nsfw=request.cookies.get(NSFW_COOKIE) == "1")


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


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
    """False when a browser says the form was posted from another site (the Origin header).

    Browsers send Origin with every cross-site POST, so checking it stops another site from
    flipping a visitor's preferences; clients that send no Origin (curl, tests) are not browsers
    carrying someone else's cookies, and pass."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")
