"""A member's page: the images they drew and the images they voted for, newest first, with counts.

Both lists are the feed's cards and keyset pages (`gallery.listing`), so hidden images stay hidden
here too; the counts are of what this viewer may see.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from atelier.errors import NotFound
from atelier.schema import Image, Job, Role, User, Vote
from gallery.deps import SessionDep, checked_id, read_only
from gallery.filters import FeedFilters
from gallery.listing import count_images, listing_context, wants_fragment
from gallery.templating import templates
from gallery.viewer import Viewer, ViewerDep

router = APIRouter()


def _drew(member_id: int) -> ColumnElement[bool]:
    return Job.owner_id == member_id


def _voted_for(member_id: int) -> ColumnElement[bool]:
    return Image.id.in_(select(Vote.image_id).where(Vote.user_id == member_id, Vote.value > 0))


def _member(session: Session, raw_id: str) -> User:
    member = session.get(User, checked_id(raw_id, "member"))
    if member is None:
        raise NotFound(f"member {raw_id} does not exist")
    return member


def _page(request: Request, session: Session, viewer: Viewer, raw_id: str, tab: str) -> Response:
    member = _member(session, raw_id)
    condition = _drew(member.id) if tab == "images" else _voted_for(member.id)
    path = f"/members/{member.id}" + ("" if tab == "images" else "/votes")
    context = listing_context(request, session, viewer, path=path, where=[condition])
    if wants_fragment(request):
        return templates.TemplateResponse(request, "_listing_page.html", context)
    counts = {
        "images": count_images(session, viewer, FeedFilters(), [_drew(member.id)]),
        "votes": count_images(session, viewer, FeedFilters(), [_voted_for(member.id)]),
    }
    empty = "No images yet." if tab == "images" else "No votes yet."
    context |= {
        "member": member,
        "moderator": member.role in (Role.MODERATOR, Role.ADMIN),
        "tab": tab,
        "counts": counts,
        "empty_message": empty,
    }
    return templates.TemplateResponse(request, "member.html", context)


@router.get("/members/{member_id}", name="member")
@read_only
def member_images(request: Request, member_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    """The member's images, newest first (`cursor` continues; `part=more` answers the cards alone)."""
    return _page(request, session, viewer, member_id, "images")


@router.get("/members/{member_id}/votes", name="member_votes")
@read_only
def member_votes(request: Request, member_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    """The images the member voted for, newest image first."""
    return _page(request, session, viewer, member_id, "votes")
