"""Log in with Discord (OAuth2 authorization code), the local login, and logging out.

The flow: `/auth/discord` makes a random `state`, keeps it in a short-lived signed cookie bound to
this browser and sends the browser to Discord; Discord sends it back to the callback with a code
and the state, which must equal the cookie's (else another site started this login: refused). The
code is exchanged for a token once, the token tells who the member is and, when a guild is
configured, their roles there (moderator role ids make a moderator). Then a session row and a
signed session cookie. Every route that changes state is a POST checked for same-origin.
"""

from __future__ import annotations

import hmac
import json
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from atelier.errors import Forbidden, NotFound
from atelier.services import logins
from atelier.settings import Settings
from gallery import login
from gallery.deps import SessionDep, SettingsDep
from gallery.templating import templates
from gallery.threads import run_slow
from gallery.viewer import ViewerDep, safe_return_path, same_origin

router = APIRouter()


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str)}


FormFields = Annotated[dict[str, str], Depends(_form_fields)]


def _set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        login.SESSION_COOKIE,
        login.sign(settings.web.secret_key, "session", token),
        max_age=login.session_max_age(settings),
        path="/",
        httponly=True,
        samesite="lax",
        secure=login.secure_cookies(settings),
    )


def _logged_in_response(
    request: Request, session: SessionDep, settings: Settings, user_id: int, next_path: str
) -> Response:
    """End any session this browser had, start one for the member, and go where the login began."""
    old = login.session_token(request, settings)
    if old:
        logins.end_session(session, old)
    token = logins.start_session(session, user_id, timedelta(days=settings.web.session_days))
    response = RedirectResponse(safe_return_path(next_path), status_code=303)
    _set_session_cookie(response, settings, token)
    return response


@router.get("/login", name="login")
def login_page(request: Request, settings: SettingsDep, viewer: ViewerDep) -> Response:
    """How to log in here: with Discord, or (local default only) as the machine's owner."""
    next_path = safe_return_path(request.query_params.get("next"))
    context = {
        "viewer": viewer,
        "next": next_path,
        "oauth": settings.web.oauth_configured,
        "local_refusal": login.local_login_refusal(request, settings),
        "reason": request.query_params.get("why", "")[:20],
    }
    return templates.TemplateResponse(request, "login.html", context)


@router.get("/auth/discord", name="discord_login")
def discord_login(request: Request, settings: SettingsDep) -> Response:
    """Send the browser to Discord's consent page with a fresh state bound to this browser."""
    if not settings.web.oauth_configured:
        raise NotFound("Log in with Discord is not configured on this gallery")
    state = secrets.token_urlsafe(24)
    payload = json.dumps({"state": state, "next": safe_return_path(request.query_params.get("next"))})
    response = RedirectResponse(login.authorize_url(settings, state), status_code=303)
    response.set_cookie(
        login.STATE_COOKIE,
        login.sign(settings.web.secret_key, "oauth-state", payload),
        max_age=login.STATE_MAX_AGE,
        path="/auth/discord",
        httponly=True,
        samesite="lax",
        secure=login.secure_cookies(settings),
    )
    return response


def _expected_state(request: Request, settings: Settings) -> dict[str, str] | None:
    raw = login.unsign(
        settings.web.secret_key, "oauth-state", request.cookies.get(login.STATE_COOKIE), login.STATE_MAX_AGE
    )
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("state"), str) else None


@router.get(login.CALLBACK_PATH, name="discord_callback")
async def discord_callback(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Discord's redirect back: check the state, exchange the code, make the member and a session.
    The exchange waits on Discord's servers (seconds when they are slow): off the pages' threads."""
    return await run_slow(_finish_discord_login, request, session, settings)


def _finish_discord_login(request: Request, session: Session, settings: Settings) -> Response:
    if not settings.web.oauth_configured:
        raise NotFound("Log in with Discord is not configured on this gallery")
    params = request.query_params
    expected = _expected_state(request, settings)
    given = params.get("state", "")
    if expected is None or not given or not hmac.compare_digest(given.encode(), expected["state"].encode()):
        raise Forbidden(
            "this login could not be checked: it took too long, or it was started on another page or site; "
            "please log in again"
        )
    if params.get("error") or not params.get("code"):
        raise HTTPException(400, "Discord did not log you in (the request was cancelled); you can try again")
    try:
        token = login.exchange_code(settings, params["code"])
        account = login.fetch_account(settings, token)
        moderator: bool | None = None
        roles: set[str] | None = None  # the guild's roles, recorded for per-role quotas
        if settings.discord.discord_guild_id:
            roles = login.fetch_roles(settings, token)
            if roles is None:
                raise Forbidden("your Discord account is not a member of this community's server")
            moderator = bool(roles & settings.web.moderator_roles)
    except login.DiscordError as error:
        raise HTTPException(400 if error.status == 400 else 502, error.message) from None
    user = logins.discord_member(session, account.id, account.name, moderator, roles)
    response = _logged_in_response(request, session, settings, user.id, expected.get("next", "/"))
    response.delete_cookie(login.STATE_COOKIE, path="/auth/discord")
    return response


@router.post("/auth/local", name="local_login")
def local_login(request: Request, fields: FormFields, session: SessionDep, settings: SettingsDep) -> Response:
    """The machine's owner logs in as the local admin; only on loopback, only without Discord login."""
    if not same_origin(request):
        raise Forbidden("this login was sent from another site")
    refusal = login.local_login_refusal(request, settings)
    if refusal:
        raise Forbidden(refusal)
    owner = logins.local_owner(session)
    return _logged_in_response(request, session, settings, owner.id, fields.get("next", "/"))


@router.post("/auth/logout", name="logout")
def logout(
    request: Request, fields: FormFields, session: SessionDep, settings: SettingsDep, viewer: ViewerDep
) -> Response:
    """Log this browser out, or (`everywhere=1`) every browser the member is logged in on."""
    if not same_origin(request):
        raise Forbidden("this logout was sent from another site")
    token = login.session_token(request, settings)
    if fields.get("everywhere") == "1" and viewer.user_id is not None:
        logins.revoke_all(session, [viewer.user_id])
    elif token:
        logins.end_session(session, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(login.SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
