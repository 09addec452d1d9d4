"""Server-rendered pages: the draw form, a job's live page, an image's page (the feed is in `feed`).

Pages work without JavaScript (the form posts, the job page can be reloaded); the small scripts
only make them nicer. A bad form is answered with the same page, status 422, the user's input
kept and the message beside the field it is about.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from atelier.errors import Forbidden, InvalidInput
from atelier.schema import JobSource
from atelier.services.jobs import get_job, rerender_exact, submit
from atelier.services.votes import voted_images
from gallery.deps import MAX_ID, RECIPE_FIELDS, FormDep, SessionDep, SettingsDep, checked_id, read_only
from gallery.forms import build_form
from gallery.lineage import image_recipe, lineage_of
from gallery.presenters import discord_message_url, image_links, image_parameters, job_status, remix_query
from gallery.queries import visible_image
from gallery.templating import templates
from gallery.viewer import ViewerDep, drawing_owner, same_origin

router = APIRouter()


@router.get("/draw", name="draw_form")
@read_only
def draw_form(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    """The draw form alone; query parameters named like its fields prefill it (remix links use this)."""
    prefill = {name: request.query_params[name] for name in RECIPE_FIELDS if name in request.query_params}
    context = {"form": build_form(session, prefill)}
    return templates.TemplateResponse(request, "draw.html", context)


@router.post("/draw", name="draw")
def draw(request: Request, values: FormDep, session: SessionDep, settings: SettingsDep, viewer: ViewerDep) -> Response:
    """Queue the form's recipe as the logged-in member's job (anonymous only without Discord login)."""
    if not same_origin(request):
        raise Forbidden("a drawing can only be asked for from pages of this gallery")
    owner_id = drawing_owner(viewer, settings)
    try:
        job = submit(
            session, settings, values, source=JobSource.WEB, owner_id=owner_id, parent_image_id=_parent(values)
        )
    except InvalidInput as error:
        session.rollback()
        context = {"form": build_form(session, values, error)}
        return templates.TemplateResponse(request, "draw.html", context, status_code=422)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


def _parent(values: dict[str, str]) -> int | None:
    """A remix from a gallery picture is that picture's child in the lineage tree (submit has
    checked the image exists by then, or refused the form)."""
    init_image = values.get("init_image", "").strip()
    if not (init_image.isascii() and init_image.isdigit() and len(init_image) <= len(str(MAX_ID))):
        return None
    return int(init_image) if 0 < int(init_image) <= MAX_ID else None


@router.get("/jobs/{job_id}", name="job")
@read_only
def job_page(request: Request, job_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    job = get_job(session, checked_id(job_id, "job"))
    context = {"job": job, "status": job_status(session, job), "recipe": job.recipe}
    return templates.TemplateResponse(request, "job.html", context)


@router.get("/images/{image_id}", name="image")
@read_only
def image_page(
    request: Request, image_id: str, session: SessionDep, settings: SettingsDep, viewer: ViewerDep
) -> Response:
    image, remixed = visible_image(session, checked_id(image_id, "image"), viewer)
    context = {
        "discord_url": discord_message_url(image.job, settings.discord.discord_guild_id),
        "viewer": viewer,
        "image": image,
        "score": image.score,
        "voted": image.id in voted_images(session, viewer.user_id, [image.id]),
        "links": image_links(image),
        "parameters": image_parameters(image),
        "remix": remix_query(image),
        "loras": image_recipe(image).loras,
        "lineage": lineage_of(session, image, viewer, remixed),
    }
    return templates.TemplateResponse(request, "image.html", context)


@router.post("/images/{image_id}/rerender-exact", name="rerender_exact")
def rerender_exact_page(
    request: Request, image_id: str, session: SessionDep, settings: SettingsDep, viewer: ViewerDep
) -> Response:
    """Queue the image's recipe and seed again; its page then says whether the pixels matched."""
    if not same_origin(request):
        raise Forbidden("a re-render can only be asked for from pages of this gallery")
    owner_id = drawing_owner(viewer, settings)
    image, _ = visible_image(session, checked_id(image_id, "image"))
    job = rerender_exact(session, settings, image.id, source=JobSource.WEB, owner_id=owner_id)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
