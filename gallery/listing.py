"""Image listings beyond the feed (a member's images, their votes, a model's images): the feed's
query and cards with one more condition, newest first, one keyset page at a time.

They reuse `gallery.feed.feed_page` so that hidden images, NSFW blurring, scores and cursors mean
the same thing on every page, and infinite scroll (feed.js) works unchanged: a listing's URL with
`part=more` answers the next page's cards as a fragment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from atelier.errors import InvalidInput
from atelier.schema import Image
from atelier.services.votes import voted_images
from gallery.cursor import Cursor, decode_cursor
from gallery.feed import feed_page, filter_conditions
from gallery.filters import FeedFilters, Sort
from gallery.queries import visible_to
from gallery.viewer import Viewer

LISTING_PAGE_SIZE = 48
FRAGMENT = ("part", "more")


def _cursor(request: Request) -> Cursor | None:
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    cursor = decode_cursor(raw)
    if cursor.sort != Sort.NEW.value or cursor.score is not None:
        raise InvalidInput("cursor", "is not a page link of this list; start again from the first page")
    return cursor


def count_images(
    session: Session, viewer: Viewer, filters: FeedFilters, where: Sequence[ColumnElement[bool]] = ()
) -> int:
    """How many images the listing holds for this viewer (hidden ones count for moderators only)."""
    conditions = [visible_to(viewer), *filter_conditions(session, filters), *where]
    query = select(func.count()).select_from(Image).join(Image.job).where(*conditions)
    return int(session.scalar(query) or 0)


def wants_fragment(request: Request) -> bool:
    return request.query_params.get(FRAGMENT[0]) == FRAGMENT[1]


def listing_context(
    request: Request,
    session: Session,
    viewer: Viewer,
    *,
    path: str,
    filters: FeedFilters | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[str, Any]:
    """What `_cards.html` and `_more.html` need for one page of the listing at `path`."""
    filters = filters or FeedFilters()
    cursor = _cursor(request)
    page = feed_page(session, viewer, filters, cursor, limit=LISTING_PAGE_SIZE, where=where)
    items = page.items
    next_url = next_fragment_url = ""
    if page.next_cursor:
        next_url = f"{path}?{urlencode({'cursor': page.next_cursor})}"
        next_fragment_url = f"{path}?{urlencode({'cursor': page.next_cursor, FRAGMENT[0]: FRAGMENT[1]})}"
    query = request.url.query
    return {
        "viewer": viewer,
        "voted": voted_images(session, viewer.user_id, [card.id for card in items]),
        "filters": filters,
        "items": items,
        "next_url": next_url,
        "next_fragment_url": next_fragment_url,
        "continued": cursor is not None,
        "first_url": path,
        "return_url": path + (f"?{query}" if query and not wants_fragment(request) else ""),
    }
