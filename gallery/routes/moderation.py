"""The moderators' pages under /mod: overview, report queue, hidden images, banned terms, role quotas and
the audit log (models are in `mod_models`).

One dependency on the router guards every /mod route on the server: an anonymous visitor is sent to
log in, a member gets a 403 page saying the pages are for moderators. The services check the role
again and write the audit log, so the bot, the CLI and these pages obey one set of rules. Every
action is a POSTed form, refused when sent from another site; it redirects back with a confirmation
(post/redirect/get) or shows the service's message on the page it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from atelier.errors import AtelierError, Forbidden, InvalidInput
from atelier.schema import AuditEntry, User
from atelier.services import audit, moderation, quotas, removal, reports
from gallery.deps import SessionDep, checked_id, refuse_nul
from gallery.errors import status_of
from gallery.templating import templates
from gallery.viewer import ViewerDep, safe_return_path, same_origin

AUDIT_PAGE_SIZE = 50
HIDDEN_PAGE_SIZE = 60
MAX_PAGE = 100_000

NOTICES = {
    "hidden": "The image is hidden from the gallery.",
    "unhidden": "The image is back in the gallery.",
    "resolved": "The image is hidden and its reports are resolved.",
    "dismissed": "The reports are dismissed; the image stays up.",
    "banned": "The term is banned: prompts containing it are refused.",
    "unbanned": "The term is no longer banned.",
    "quota-set": "The role's quota is saved; it applies to the next job.",
    "quota-removed": "The role's quota is removed; its members fall back to the defaults.",
    "enabled": "The model is enabled.",
    "disabled": "The model is disabled.",
    "default": "The default checkpoint is changed.",
    "nsfw-allowed": "The model may now make NSFW images (in age-restricted channels only).",
    "nsfw-forbidden": "The model no longer makes NSFW images.",
    "triggers": "The trigger words are saved.",
}


class LoginRequired(HTTPException):
    """A 303 to the login page: the app's HTTP error handler passes the Location header on."""

    def __init__(self, next_path: str) -> None:
        query = urlencode({"next": next_path})
        super().__init__(303, "log in as a moderator to use these pages", {"Location": f"/login?{query}"})


def current_moderator(request: Request, session: SessionDep, viewer: ViewerDep) -> User:
    """The logged-in moderator's row; anonymous visitors log in first, members are refused."""
    if not viewer.logged_in:
        raise LoginRequired(request.url.path if request.method == "GET" else "/mod")
    user = session.get(User, viewer.user_id)
    if user is None or not viewer.is_moderator:
        raise Forbidden(
            "These pages are for the studio's moderators, and your account is a member's. "
            "If you should moderate, ask for the moderator role in Discord, then log in again."
        )
    return user


def same_site_form(request: Request) -> None:
    """Moderator actions come from the gallery's own pages only (CSRF)."""
    if not same_origin(request):
        raise Forbidden("moderator actions are accepted from pages of this gallery only")


ModeratorDep = Annotated[User, Depends(current_moderator)]
CHECKED = [Depends(same_site_form)]

router = APIRouter(prefix="/mod", dependencies=[Depends(current_moderator)])


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=16)
    return {name: refuse_nul(name, value) for name, value in form.items() if isinstance(value, str)}


FormFields = Annotated[dict[str, str], Depends(_form_fields)]


def render(
    request: Request, template: str, context: dict[str, Any], error: AtelierError | None = None, notice: str = ""
) -> Response:
    """A moderator page, with the confirmation of the last action or the service's error message."""
    context = {
        "notice": notice or NOTICES.get(request.query_params.get("done", ""), ""),
        "error": error.message if error else "",
        "viewer": request.state.viewer,
        **context,
    }
    return templates.TemplateResponse(request, template, context, status_code=status_of(error) if error else 200)


def done(path: str, key: str) -> RedirectResponse:
    """Back to `path` (a same-site path) with the confirmation `key`."""
    path, _, fragment = path.partition("#")
    separator = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{separator}done={key}" + (f"#{fragment}" if fragment else ""), status_code=303)


View = Callable[[], tuple[str, dict[str, Any]]]
"""A page as its template and context, so an action can show it again with a refusal."""


def act(request: Request, session: Session, view: View, change: Callable[[], object], back: str, key: str) -> Response:
    """Run a service call; on its refusal show `view` with the message (nothing changed), else go back."""
    try:
        change()
    except AtelierError as error:
        session.rollback()
        return render(request, *view(), error=error)
    return done(back, key)


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_PAGE)) and 1 <= int(raw) <= MAX_PAGE):
        raise InvalidInput("page", f"must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


# -- overview, reports, hidden images --------------------------------------------------------------


@router.get("", name="mod_overview")
def overview(request: Request, session: SessionDep) -> Response:
    """What waits for a moderator, and the way to each page."""
    context = {
        "open_reports": reports.open_count(session),
        "hidden": removal.hidden_count(session),
        "banned": len(moderation.banned_terms(session)),
    }
    return render(request, "mod_overview.html", context)


def _reports_view(session: Session) -> tuple[str, dict[str, Any]]:
    return "mod_reports.html", {"queue": reports.open_reports(session)}


@router.get("/reports", name="mod_reports")
def reports_page(request: Request, session: SessionDep) -> Response:
    """The report queue, the image reported longest ago first."""
    return render(request, *_reports_view(session))


def _settle(request: Request, session: Session, actor: User, raw_id: str, hide: bool) -> Response:
    report_id = checked_id(raw_id, "report")
    return act(
        request,
        session,
        lambda: _reports_view(session),
        lambda: reports.resolve(session, actor, report_id, hide=hide),
        "/mod/reports",
        "resolved" if hide else "dismissed",
    )


@router.post("/reports/{report_id}/hide", name="mod_report_hide", dependencies=CHECKED)
def report_hide(request: Request, report_id: str, session: SessionDep, actor: ModeratorDep) -> Response:
    """Hide the reported image and resolve every open report on it."""
    return _settle(request, session, actor, report_id, hide=True)


@router.post("/reports/{report_id}/dismiss", name="mod_report_dismiss", dependencies=CHECKED)
def report_dismiss(request: Request, report_id: str, session: SessionDep, actor: ModeratorDep) -> Response:
    """Leave the image up and dismiss every open report on it."""
    return _settle(request, session, actor, report_id, hide=False)


def _hidden_view(session: Session, number: int = 1) -> tuple[str, dict[str, Any]]:
    images = removal.hidden_images(session, HIDDEN_PAGE_SIZE + 1, (number - 1) * HIDDEN_PAGE_SIZE)
    context = {
        "images": images[:HIDDEN_PAGE_SIZE],
        "page": number,
        "more": len(images) > HIDDEN_PAGE_SIZE,
        "total": removal.hidden_count(session),
    }
    return "mod_hidden.html", context


@router.get("/hidden", name="mod_hidden")
def hidden_page(request: Request, session: SessionDep) -> Response:
    """Hidden images, most recent first, a page at a time."""
    return render(request, *_hidden_view(session, page_number(request)))


def _set_hidden(
    request: Request, session: Session, actor: User, raw_id: str, form: dict[str, str], hide: bool
) -> Response:
    image_id = checked_id(raw_id, "image")
    back = safe_return_path(form.get("next") or "/mod/hidden")
    return act(
        request,
        session,
        lambda: _hidden_view(session),
        lambda: removal.set_hidden(session, image_id, hide, actor),
        back,
        "hidden" if hide else "unhidden",
    )


@router.post("/images/{image_id}/hide", name="mod_image_hide", dependencies=CHECKED)
def image_hide(request: Request, image_id: str, form: FormFields, session: SessionDep, actor: ModeratorDep) -> Response:
    """Hide one image (from its page or the list); `next` is where to go back to."""
    return _set_hidden(request, session, actor, image_id, form, hide=True)


@router.post("/images/{image_id}/unhide", name="mod_image_unhide", dependencies=CHECKED)
def image_unhide(
    request: Request, image_id: str, form: FormFields, session: SessionDep, actor: ModeratorDep
) -> Response:
    """Bring a hidden image back to the gallery."""
    return _set_hidden(request, session, actor, image_id, form, hide=False)


# -- banned terms ----------------------------------------------------------------------------------


def _bans_view(session: Session) -> tuple[str, dict[str, Any]]:
    return "mod_bans.html", {"terms": moderation.banned_terms(session)}


@router.get("/bans", name="mod_bans")
def bans_page(request: Request, session: SessionDep) -> Response:
    """Banned terms with the reason a refused member is shown."""
    return render(request, *_bans_view(session))


@router.post("/bans", name="mod_ban", dependencies=CHECKED)
def ban(request: Request, form: FormFields, session: SessionDep, actor: ModeratorDep) -> Response:
    """Ban a term (or change the reason of a banned one)."""
    term, reason = form.get("term", ""), form.get("reason", "")
    change = lambda: moderation.ban(session, term, reason, actor)  # noqa: E731
    return act(request, session, lambda: _bans_view(session), change, "/mod/bans", "banned")


@router.post("/bans/remove", name="mod_unban", dependencies=CHECKED)
def unban(request: Request, form: FormFields, session: SessionDep, actor: ModeratorDep) -> Response:
    """Lift a ban."""
    term = form.get("term", "")
    change = lambda: moderation.unban(session, term, actor)  # noqa: E731
    return act(request, session, lambda: _bans_view(session), change, "/mod/bans", "unbanned")


# -- role quotas -----------------------------------------------------------------------------------


def _quotas_view(session: Session) -> tuple[str, dict[str, Any]]:
    return "mod_quotas.html", {"quotas": quotas.list_quotas(session)}


@router.get("/quotas", name="mod_quotas")
def quotas_page(request: Request, session: SessionDep) -> Response:
    """Per-Discord-role limits: GPU minutes a day and jobs waiting at once (0: unlimited)."""
    return render(request, *_quotas_view(session))


def _role_id(raw: str) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 20 and 0 < int(text) < 2**63):
        raise InvalidInput("role_id", "must be a Discord role id: its digits, from Server Settings → Roles → Copy ID")
    return int(text)


def _number(raw: str, field: str, whole: bool) -> float:
    text = raw.strip() or "0"
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise InvalidInput(field, f"must be {kind}, 0 for unlimited; got {text[:20]!r}") from None
    if not 0 <= value <= 10**7:
        raise InvalidInput(field, f"must be from 0 (unlimited) to 10000000; got {text[:20]}")
    return value


@router.post("/quotas", name="mod_quota_set", dependencies=CHECKED)
def quota_set(request: Request, form: FormFields, session: SessionDep, actor: ModeratorDep) -> Response:
    """Create or change one role's quota."""

    def change() -> object:
        role_id = _role_id(form.get("role_id", ""))
        minutes = _number(form.get("gpu_minutes", ""), "gpu_minutes", whole=False)
        queued = int(_number(form.get("max_queued", ""), "max_queued", whole=True))
        return quotas.set_quota(session, actor, role_id, form.get("role_name", ""), minutes * 60, queued)

    return act(request, session, lambda: _quotas_view(session), change, "/mod/quotas", "quota-set")


@router.post("/quotas/{role_id}/remove", name="mod_quota_remove", dependencies=CHECKED)
def quota_remove(request: Request, role_id: str, session: SessionDep, actor: ModeratorDep) -> Response:
    """Remove one role's quota."""
    change = lambda: quotas.remove_quota(session, actor, _role_id(role_id[:40]))  # noqa: E731
    return act(request, session, lambda: _quotas_view(session), change, "/mod/quotas", "quota-removed")


# -- audit log -------------------------------------------------------------------------------------


@router.get("/audit", name="mod_audit")
def audit_page(request: Request, session: SessionDep) -> Response:
    """Every moderator action, newest first, a page at a time."""
    number = page_number(request)
    query = (
        select(AuditEntry, User.name)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .order_by(AuditEntry.id.desc())
        .limit(AUDIT_PAGE_SIZE + 1)
        .offset((number - 1) * AUDIT_PAGE_SIZE)
    )
    rows = session.execute(query).all()
    entries = [
        audit.Entry(entry.created_at, name or audit.OPERATOR_NAME, entry.action, entry.target, entry.details)
        for entry, name in rows[:AUDIT_PAGE_SIZE]
    ]
    total = int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
    context = {"entries": entries, "page": number, "more": len(rows) > AUDIT_PAGE_SIZE, "total": total}
    return render(request, "mod_audit.html", context)
