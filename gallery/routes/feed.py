"""The feed: the whole page, the next-page fragment that infinite scroll appends, and the NSFW
preference.

The query string is the state: `gallery.filters` reads it, `gallery.feed` queries, and these
routes only choose the template. A bad filter is answered with the page, status 422 and the
message beside its field; it never reaches the database.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from atelier.errors import InvalidInput
from atelier.samplers import BY_NAME
from atelier.schema import ModelKind
from atelier.services.votes import voted_images
from gallery.deps import SessionDep, read_only
from gallery.feed import feed_page
from gallery.filters import FeedFilters, FeedQuery, Sort, feed_params, parse_feed_query
from gallery.forms import DrawForm, build_form
from gallery.queries import model_names
from gallery.templating import templates
from gallery.viewer import NSFW_COOKIE, NSFW_COOKIE_MAX_AGE, Viewer, ViewerDep, safe_return_path, same_origin

router = APIRouter()

FEED_PAGE_SIZE = 48
LABELS = {
    "q": "Search",
    "checkpoint": "Checkpoint",
    "lora": "LoRA",
    "member": "Member",
    "from": "From",
    "to": "To",
    "sampler": "Sampler",
    "size": "Size",
    "sort": "Order",
    "cursor": "Page link",
}
ADVANCED = ("checkpoint", "lora", "member", "from", "to", "sampler", "size")


def _url(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _context(request: Request, session: Session, viewer: Viewer, query: FeedQuery) -> dict[str, Any]:
    """Everything the feed templates show for this query string; runs the query unless it is bad."""
    filters = query.filters
    items: list[Any] = []
    next_cursor = None
    if not query.errors:
        try:
            page = feed_page(session, viewer, filters, query.cursor, limit=FEED_PAGE_SIZE)
            items, next_cursor = page.items, page.next_cursor
        except InvalidInput as error:
            query.errors[error.field] = error.reason
    names = model_names(session)
    search = {
        "given": query.values,
        "errors": query.errors,
        "labels": LABELS,
        "advanced": any(query.values[name] or name in query.errors for name in ADVANCED),
        "samplers": list(BY_NAME),
        "checkpoints": names[ModelKind.CHECKPOINT],
        "loras": names[ModelKind.LORA],
        "clear_url": _url("/", feed_params(FeedFilters(sort=filters.sort))),
    }
    return {
        "viewer": viewer,
        "voted": voted_images(session, viewer.user_id, [card.id for card in items]),
        "filters": filters,
        "search": search,
        "items": items,
        "sorts": [(sort, _url("/", feed_params(filters, sort=sort.value))) for sort in Sort],
        "next_url": _url("/", feed_params(filters, cursor=next_cursor)) if next_cursor else "",
        "next_fragment_url": _url("/feed/page", feed_params(filters, cursor=next_cursor)) if next_cursor else "",
        "continued": query.cursor is not None,
        "first_url": _url("/", feed_params(filters)),
        "current_url": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        # Where a vote button goes back to without JavaScript: the full page this fragment belongs to.
        "return_url": "/" + (f"?{request.url.query}" if request.url.query else ""),
    }


def render_feed(request: Request, session: Session, viewer: Viewer, form: DrawForm, status: int = 200) -> Response:
    """The feed page with `form` as its draw form (the pages module re-renders it with errors)."""
    query = parse_feed_query(request.query_params)
    context = {"form": form, **_context(request, session, viewer, query)}
    status = 422 if query.errors and status == 200 else status
    return templates.TemplateResponse(request, "feed.html", context, status_code=status)


@router.get("/", name="feed")
@read_only
def feed(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    """The feed: draw form, search, sort tabs and the first page (or the page after `cursor`)."""
    return render_feed(request, session, viewer, build_form(session))


@router.get("/feed/page", name="feed_page")
@read_only
def feed_fragment(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    """The cards after `cursor` and the next link, as an HTML fragment for infinite scroll."""
    query = parse_feed_query(request.query_params)
    context = _context(request, session, viewer, query)
    status = 422 if query.errors else 200
    return templates.TemplateResponse(request, "_feed_page.html", context, status_code=status)


@router.post("/preferences/nsfw", name="nsfw_preference")
async def nsfw_preference(request: Request) -> Response:
    """Remember whether NSFW thumbnails are shown unblurred, then go back where the form was."""
    if not same_origin(request):
        raise HTTPException(403, "this form was sent from another site; change the setting on this site")
    form = await request.form()
    show = form.get("show") == "1"
    next_path = form.get("next")
    response = RedirectResponse(safe_return_path(next_path if isinstance(next_path, str) else None), status_code=303)
    response.set_cookie(
        NSFW_COOKIE,
        "1" if show else "0",
        max_age=NSFW_COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response
