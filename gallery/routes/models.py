"""A checkpoint's or LoRA's page: what it is (base architecture, trigger words, hashes, size, state)
and the images made with it, newest first.

A checkpoint's images are the jobs that ran on its row; a LoRA's are those whose recipe lists it by
name (as the feed's LoRA filter finds them). Disabled models keep their pages: old images still
link to them.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atelier.errors import NotFound
from atelier.schema import Job, ModelFile, ModelKind
from gallery.deps import SessionDep, read_only
from gallery.filters import FeedFilters
from gallery.listing import count_images, listing_context, wants_fragment
from gallery.templating import model_url, templates
from gallery.viewer import ViewerDep

router = APIRouter()

PAGE_KINDS = {"checkpoint": ModelKind.CHECKPOINT, "lora": ModelKind.LORA}
MAX_NAME = 200


def _model(session: Session, kind: str, name: str) -> ModelFile:
    model_kind = PAGE_KINDS.get(kind)
    if model_kind is None or not name or len(name) > MAX_NAME:
        raise NotFound(f"there is no {kind[:20]} model page")
    if "\x00" in name:  # no name holds one, and PostgreSQL refuses to compare with one
        raise NotFound(f"no {kind} is registered under a name with a NUL character")
    query = select(ModelFile).where(ModelFile.kind == model_kind)
    model = session.scalars(query.where(ModelFile.name == name)).first()
    if model is None:  # names are matched without case elsewhere (prompts, filters)
        model = session.scalars(query.where(func.lower(ModelFile.name) == name.lower())).first()
    if model is None:
        raise NotFound(f"{kind} {name[:MAX_NAME]!r} is not registered")
    return model


@router.get("/models/{kind}/{name:path}", name="model")
@read_only
def model_page(request: Request, kind: str, name: str, session: SessionDep, viewer: ViewerDep) -> Response:
    """The model's facts and its images (`cursor` continues; `part=more` answers the cards alone)."""
    model = _model(session, kind, name)
    if model.kind == ModelKind.CHECKPOINT:
        filters, where = FeedFilters(), [Job.checkpoint_id == model.id]
    else:
        filters, where = FeedFilters(lora=model.name), []
    context = listing_context(request, session, viewer, path=model_url(kind, model.name), filters=filters, where=where)
    if wants_fragment(request):
        return templates.TemplateResponse(request, "_listing_page.html", context)
    context |= {
        "model": model,
        "kind_label": "Checkpoint" if model.kind == ModelKind.CHECKPOINT else "LoRA",
        "count": count_images(session, viewer, filters, where),
        "empty_message": "No images made with it yet.",
    }
    return templates.TemplateResponse(request, "model.html", context)
