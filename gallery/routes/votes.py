"""Voting: a form POST that works without JavaScript, and the JSON route the vote button's script uses.

Both toggle the member's vote through `atelier.services.votes` (one per member per image, none on
one's own, rate limited per member in Redis), refuse cross-site requests, and need a login: an
anonymous form goes to the login page and comes back, the JSON route answers 401 with a message.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from atelier import events
from atelier.errors import Forbidden
from atelier.services import votes
from atelier.settings import Settings
from gallery.deps import SessionDep, SettingsDep, checked_id
from gallery.viewer import Viewer, ViewerDep, safe_return_path, same_origin

router = APIRouter()

LOGIN_TO_VOTE = "log in to vote"


async def _next_field(request: Request) -> str:
    form = await request.form()
    value = form.get("next")
    return value if isinstance(value, str) else ""


NextField = Annotated[str, Depends(_next_field)]


def _toggle(request: Request, raw_id: str, session: Session, settings: Settings, viewer: Viewer) -> votes.VoteResult:
    if not same_origin(request):
        raise Forbidden("this vote was sent from another site")
    image_id = checked_id(raw_id, "image")
    assert viewer.user_id is not None
    return votes.toggle(
        session,
        viewer.user_id,
        image_id,
        moderator=viewer.is_moderator,
        client=events.shared_client(settings.redis_url),
        per_minute=settings.web.votes_per_minute,
    )


@router.post("/images/{image_id}/vote", name="vote")
def vote_form(
    request: Request, image_id: str, next_path: NextField, session: SessionDep, settings: SettingsDep, viewer: ViewerDep
) -> Response:
    """Toggle the vote, then go back to the page the button was on."""
    back = safe_return_path(next_path or f"/images/{image_id[:20]}")
    if not viewer.logged_in:
        return RedirectResponse("/login?" + urlencode({"next": back, "why": "vote"}), status_code=303)
    _toggle(request, image_id, session, settings, viewer)
    return RedirectResponse(back, status_code=303)


@router.post("/api/images/{image_id}/vote")
def vote_json(
    request: Request, image_id: str, session: SessionDep, settings: SettingsDep, viewer: ViewerDep
) -> dict[str, Any]:
    """Toggle the vote; answers the member's vote and the image's score."""
    if not viewer.logged_in:
        raise HTTPException(401, LOGIN_TO_VOTE)
    result = _toggle(request, image_id, session, settings, viewer)
    return {"image_id": result.image_id, "voted": result.voted, "score": result.score}
