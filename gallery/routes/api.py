"""The JSON API: images (the feed, its search and filters, one image with its recipe, lineage and
votes), jobs (submit, status), models, and a health check for the process manager.

Every answer comes from the queries the pages run (`gallery.feed`, `gallery.queries`,
`gallery.lineage`, `gallery.presenters`), so the API and the pages agree on what is hidden, how the
feed is sorted and where a page ends. The pydantic models below are the documented shapes in
`/api/openapi.json`; responses are validated against them. Errors keep one shape,
`{"error": {"field": ..., "message": ...}}`, so a script can point at the parameter it got wrong;
the handlers in `gallery.errors` produce it. Voting is `POST /api/images/{id}/vote` (`routes.votes`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from atelier.errors import Forbidden
from atelier.recipe import (
    CFG_RANGE,
    DENOISE_RANGE,
    MAX_IMAGES,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    SIZE_RANGE,
    STEPS_RANGE,
    LoraUse,
)
from atelier.recipe_diff import PromptDiff, RecipeDiff
from atelier.schema import Image, JobSource, ModelFile, ModelKind
from atelier.services.jobs import get_job, submit
from atelier.services.votes import voted_images
from gallery.deps import JsonDep, SessionDep, SettingsDep, checked_id, read_only
from gallery.feed import Card, feed_page
from gallery.filters import feed_params, parse_feed_query
from gallery.lineage import Lineage, Relative, lineage_of
from gallery.presenters import file_url, image_parameters, job_status
from gallery.queries import visible_image
from gallery.templating import aware, model_url
from gallery.viewer import Viewer, ViewerDep, drawing_owner, same_origin

router = APIRouter()

API_PAGE_SIZE = 48
MAX_API_PAGE_SIZE = 100


# -- documented shapes -----------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str
    fields: dict[str, str] | None = None
    """Every bad query parameter and its message, when more than one can be wrong at once (the feed)."""


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ImageFile(BaseModel):
    id: int
    index: int
    seed: int
    width: int
    height: int
    url: str
    file_url: str
    thumbnail_url: str


class JobStatus(BaseModel):
    id: int
    state: str
    finished: bool
    progress_step: int
    progress_total: int
    queue_position: int | None
    eta_seconds: float | None
    error: str | None
    image_ids: list[int]
    images: list[ImageFile]
    url: str


class Member(BaseModel):
    id: int
    name: str
    url: str


class ImageSummary(BaseModel):
    id: int
    job_id: int
    prompt: str
    checkpoint: str
    width: int
    height: int
    seed: int
    nsfw: bool
    hidden: bool
    created_at: datetime
    score: int
    voted: bool
    owner: Member | None
    url: str
    api_url: str
    file_url: str
    thumbnail_url: str


class ImagePage(BaseModel):
    items: list[ImageSummary]
    next_cursor: str | None
    next_url: str | None


class ImageRef(BaseModel):
    id: int
    prompt: str
    nsfw: bool
    url: str
    api_url: str
    thumbnail_url: str


class Term(BaseModel):
    text: str
    weight: float


class Reweighted(BaseModel):
    text: str
    before: float
    after: float


class PromptChanges(BaseModel):
    added: list[Term]
    removed: list[Term]
    reweighted: list[Reweighted]


class Lora(BaseModel):
    name: str
    weight: float
    unet_weight: float | None
    hash: str


class LoraChange(BaseModel):
    name: str
    kind: str
    before: Lora | None
    after: Lora | None


class SettingChange(BaseModel):
    name: str
    label: str
    before: str
    after: str


class Diff(BaseModel):
    same: bool
    prompt: PromptChanges
    negative_prompt: PromptChanges
    loras: list[LoraChange]
    settings: list[SettingChange]


class Relation(BaseModel):
    image: ImageRef
    relation: str
    depth: int
    diff: Diff
    """Ancestors: what the image changed from them; children: what they changed from the image."""


class LineageOut(BaseModel):
    parent_id: int | None
    ancestors: list[Relation]
    children: list[Relation]
    more_ancestors: bool
    more_children: bool


class Parameter(BaseModel):
    label: str
    value: str


class Votes(BaseModel):
    score: int
    voted: bool
    vote_url: str


class ImageDetail(ImageSummary):
    negative_prompt: str
    recipe: dict[str, Any]
    """The job's recipe with this image's own seed: post it to /api/jobs to draw it again."""
    parameters: list[Parameter]
    infotext: str
    job_url: str
    exact_of_image_id: int | None
    exact_match: bool | None
    votes: Votes
    lineage: LineageOut


class ModelOut(BaseModel):
    id: int
    kind: str
    name: str
    base_arch: str
    native_size: int
    enabled: bool
    is_default: bool
    nsfw_allowed: bool
    trigger_words: list[str]
    sha256: str
    autov2: str
    autov3: str | None
    size_bytes: int
    url: str | None
    """The model's page (checkpoints and LoRAs have one)."""


class Health(BaseModel):
    status: str
    detail: str | None = None


class RecipeRequest(BaseModel):
    """The body of `POST /api/jobs`, documented here; the recipe parser (`atelier.recipe`) checks it,
    so the form, the bot and the API give the same message for the same mistake."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    negative_prompt: str = ""
    checkpoint: str = Field("", description="a checkpoint's name; the default when empty")
    sampler: str = ""
    steps: int = Field(20, ge=STEPS_RANGE[0], le=STEPS_RANGE[1])
    cfg_scale: float = Field(7.0, ge=CFG_RANGE[0], le=CFG_RANGE[1])
    width: int = Field(512, ge=SIZE_RANGE[0], le=SIZE_RANGE[1], multiple_of=8)
    height: int = Field(512, ge=SIZE_RANGE[0], le=SIZE_RANGE[1], multiple_of=8)
    seed: int = Field(-1, ge=-1, le=MAX_SEED, description="-1 for a random seed")
    count: int = Field(1, ge=1, le=MAX_IMAGES)
    init_image: str = Field("", description="img2img: a gallery image id or an upload's content address")
    denoising_strength: float | None = Field(None, ge=DENOISE_RANGE[0], le=DENOISE_RANGE[1])


RECIPE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": RecipeRequest.model_json_schema()}},
    }
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}


# -- rows to shapes --------------------------------------------------------------------------------


def _prompt(image: Image) -> str:
    return str(image.job.recipe.get("prompt", ""))


def _summary(card: Card, voted: bool) -> ImageSummary:
    owner = None
    if card.owner_id is not None:
        owner = Member(id=card.owner_id, name=card.owner_name or "", url=f"/members/{card.owner_id}")
    return ImageSummary(
        id=card.id,
        job_id=card.job_id,
        prompt=card.prompt,
        checkpoint=card.checkpoint,
        width=card.width,
        height=card.height,
        seed=card.seed,
        nsfw=card.nsfw,
        hidden=card.hidden,
        created_at=aware(card.created_at),
        score=card.score,
        voted=voted,
        owner=owner,
        url=f"/images/{card.id}",
        api_url=f"/api/images/{card.id}",
        file_url=file_url(card.file_path),
        thumbnail_url=file_url(card.thumbnail_path),
    )


def _ref(image: Image) -> ImageRef:
    return ImageRef(
        id=image.id,
        prompt=_prompt(image),
        nsfw=image.nsfw,
        url=f"/images/{image.id}",
        api_url=f"/api/images/{image.id}",
        thumbnail_url=file_url(image.thumbnail_path),
    )


def _prompt_changes(diff: PromptDiff) -> PromptChanges:
    return PromptChanges(
        added=[Term(text=term.text, weight=term.weight) for term in diff.added],
        removed=[Term(text=term.text, weight=term.weight) for term in diff.removed],
        reweighted=[Reweighted(text=r.text, before=r.before, after=r.after) for r in diff.reweighted],
    )


def _lora(lora: LoraUse | None) -> Lora | None:
    if lora is None:
        return None
    return Lora(name=lora.name, weight=lora.weight, unet_weight=lora.unet_weight, hash=lora.hash)


def _diff(diff: RecipeDiff) -> Diff:
    return Diff(
        same=diff.empty,
        prompt=_prompt_changes(diff.prompt),
        negative_prompt=_prompt_changes(diff.negative_prompt),
        loras=[LoraChange(name=c.name, kind=c.kind, before=_lora(c.before), after=_lora(c.after)) for c in diff.loras],
        settings=[SettingChange(name=c.name, label=c.label, before=c.before, after=c.after) for c in diff.settings],
    )


def _relation(relative: Relative, relation: str) -> Relation:
    return Relation(image=_ref(relative.image), relation=relation, depth=relative.depth, diff=_diff(relative.diff))


def _lineage(lineage: Lineage) -> LineageOut:
    return LineageOut(
        parent_id=lineage.ancestors[0].image.id if lineage.ancestors else None,
        ancestors=[_relation(relative, relative.relation) for relative in lineage.ancestors],
        children=[_relation(relative, "child") for relative in lineage.children],
        more_ancestors=lineage.more_ancestors,
        more_children=lineage.more_children,
    )


def _next_url(query: dict[str, str], limit: int) -> str:
    params = {**query, **({"limit": str(limit)} if limit != API_PAGE_SIZE else {})}
    return f"/api/images?{urlencode(params)}"


def _model_out(model: ModelFile) -> ModelOut:
    has_page = model.kind in (ModelKind.CHECKPOINT, ModelKind.LORA)
    return ModelOut(
        id=model.id,
        kind=model.kind.value,
        name=model.name,
        base_arch=model.base_arch,
        native_size=model.native_size,
        enabled=model.enabled,
        is_default=model.is_default,
        nsfw_allowed=model.nsfw_allowed,
        trigger_words=list(model.trigger_words or []),
        sha256=model.sha256,
        autov2=model.autov2,
        autov3=model.autov3,
        size_bytes=model.size_bytes,
        url=model_url(model.kind.value, model.name) if has_page else None,
    )


def _image_detail(session: Session, image: Image, viewer: Viewer, remixed: bool) -> ImageDetail:
    voted = image.id in voted_images(session, viewer.user_id, [image.id])
    summary = _summary(Card.of(image), voted)
    job = image.job
    return ImageDetail(
        **summary.model_dump(),
        negative_prompt=str(job.recipe.get("negative_prompt", "")),
        recipe={**job.recipe, "seed": image.seed},
        parameters=[Parameter(label=label, value=value) for label, value in image_parameters(image)],
        infotext=image.infotext,
        job_url=f"/api/jobs/{job.id}",
        exact_of_image_id=job.exact_of_image_id,
        exact_match=job.exact_match,
        votes=Votes(score=image.score, voted=voted, vote_url=f"/api/images/{image.id}/vote"),
        lineage=_lineage(lineage_of(session, image, viewer, remixed)),
    )


def answer(content: BaseModel) -> JSONResponse:
    """The model as the JSON answer, serialized in the route's own worker thread. Returned as a model,
    FastAPI would validate it against the route's response model again in a second worker-thread hop
    (for `def` routes), queueing once more for one of the few page threads (gallery.threads); the models
    are validated when built."""
    return JSONResponse(content.model_dump(mode="json"))


# -- routes ----------------------------------------------------------------------------------------

Text = Annotated[str, Query(description="as in the feed's search form")]


@router.get("/api/images", response_model=ImagePage, responses=_errors(422))
@read_only
def list_images(
    request: Request,
    session: SessionDep,
    viewer: ViewerDep,
    q: Annotated[str, Query(description="words of the prompt (all must match)")] = "",
    checkpoint: Text = "",
    lora: Text = "",
    member: Annotated[str, Query(description="the member's name")] = "",
    date_from: Annotated[str, Query(alias="from", description="first day, YYYY-MM-DD")] = "",
    date_to: Annotated[str, Query(alias="to", description="last day, YYYY-MM-DD")] = "",
    sampler: Text = "",
    size: Annotated[str, Query(description="WIDTHxHEIGHT, e.g. 512x768")] = "",
    sort: Annotated[str, Query(description="new, top-day, top-week, top-month or top-all")] = "",
    cursor: Annotated[str, Query(description="next_cursor of the previous page")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_API_PAGE_SIZE)] = API_PAGE_SIZE,
) -> Any:
    """The feed as JSON: visible images, filtered and sorted as on `/`, one keyset page at a time."""
    raw = {"q": q, "checkpoint": checkpoint, "lora": lora, "member": member, "from": date_from, "to": date_to}
    raw |= {"sampler": sampler, "size": size, "sort": sort, "cursor": cursor}
    query = parse_feed_query(raw)
    if query.errors:
        field, reason = next(iter(query.errors.items()))
        error = {"field": field, "message": f"{field}: {reason}", "fields": query.errors}
        return JSONResponse({"error": error}, status_code=422)
    page = feed_page(session, viewer, query.filters, query.cursor, limit=limit)
    voted = voted_images(session, viewer.user_id, [card.id for card in page.items])
    items = [_summary(card, card.id in voted) for card in page.items]
    next_url = None
    if page.next_cursor:
        next_url = _next_url(feed_params(query.filters, cursor=page.next_cursor), limit)
    return answer(ImagePage(items=items, next_cursor=page.next_cursor, next_url=next_url))


@router.get("/api/images/{image_id}", response_model=ImageDetail, responses=_errors(404))
@read_only
def read_image(image_id: str, session: SessionDep, viewer: ViewerDep) -> Any:
    """One image: its recipe and parameters, owner, votes, and lineage (parent, ancestors, remixes) with diffs."""
    image, remixed = visible_image(session, checked_id(image_id, "image"), viewer)
    return answer(_image_detail(session, image, viewer, remixed))


@router.get("/api/models", response_model=list[ModelOut], responses=_errors(422))
@read_only
def list_models(session: SessionDep, kind: ModelKind | None = None) -> Any:
    """Every registered model (disabled ones too: old images keep their models), by kind and name."""
    query = select(ModelFile).order_by(ModelFile.kind, ModelFile.name, ModelFile.id)
    if kind is not None:
        query = query.where(ModelFile.kind == kind)
    return [_model_out(model) for model in session.scalars(query)]


@router.post(
    "/api/jobs",
    status_code=201,
    response_model=None,
    responses={201: {"model": JobStatus, "description": "queued"}, **_errors(403, 422, 429)},
    openapi_extra=RECIPE_BODY,
)
def create_job(
    request: Request, body: JsonDep, session: SessionDep, settings: SettingsDep, viewer: ViewerDep
) -> JSONResponse:
    """Queue a render as the logged-in member (cookie session; anonymous only without Discord login)."""
    if not same_origin(request):
        raise Forbidden("jobs can only be submitted from pages of this gallery or by non-browser clients")
    job = submit(session, settings, body, source=JobSource.WEB, owner_id=drawing_owner(viewer, settings))
    status = job_status(session, job)
    headers = {"Location": f"/api/jobs/{job.id}"}
    return JSONResponse(status, status_code=201, headers=headers)


@router.get("/api/jobs/{job_id}", response_model=JobStatus, responses=_errors(404))
@read_only
def read_job(job_id: str, session: SessionDep) -> Any:
    """The job's state, progress, live queue position and ETA, and its images once done."""
    return job_status(session, get_job(session, checked_id(job_id, "job")))


@router.get("/healthz", response_model=None, responses={200: {"model": Health}, 503: {"model": Health}})
def healthz(session: SessionDep) -> JSONResponse:
    """200 only when the database answers: a gallery that cannot read jobs is not healthy."""
    try:
        session.execute(text("SELECT 1"))
    except Exception as error:
        return JSONResponse({"status": "error", "detail": type(error).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})
