"""Logging in: signed cookies, the Discord OAuth2 calls, and who may use the local login.

Cookies are signed with HMAC-SHA256 under a key derived from `ATELIER_SECRET_KEY` and the cookie's
purpose, with the time of signing inside, so a state cookie cannot pass for a session cookie, an old
one expires even if a browser keeps it, and changing the secret logs everybody out. The session
cookie holds only a random token; the database row behind it (`atelier.services.logins`) is what
makes a session revocable.

Discord is called with the standard library's HTTP client: the routes that call it are plain `def`
routes (run in the thread pool), so a blocking client keeps the event loop free and needs no new
dependency. Endpoints follow `ATELIER_DISCORD_API_BASE`, which tests point at a fake on loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from atelier import __version__
from atelier.settings import Settings

SESSION_COOKIE = "atelier_session"
STATE_COOKIE = "atelier_oauth_state"
STATE_MAX_AGE = 600
CALLBACK_PATH = "/auth/discord/callback"
DISCORD_API = "https://discord.com/api/v10"
DISCORD_AUTHORIZE = "https://discord.com/oauth2/authorize"
HTTP_TIMEOUT = 10.0
# Discord's edge refuses requests without a descriptive agent (its API reference, "User Agent").
USER_AGENT = f"DiscordBot (https://github.com/atelier, {__version__}) Atelier-gallery"
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")
LOOPBACK_HOSTS = ("localhost",)


# -- signed cookies --------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, body: str) -> str:
    key = hmac.new(secret.encode(), f"atelier-cookie:{purpose}".encode(), hashlib.sha256).digest()
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def sign(secret: str, purpose: str, payload: str, now: float | None = None) -> str:
    """`payload` with the time and a MAC for `purpose`, as cookie-safe text."""
    body = f"{_b64(payload.encode())}.{int(time.time() if now is None else now)}"
    return f"{body}.{_mac(secret, purpose, body)}"


def unsign(secret: str, purpose: str, value: str | None, max_age: float, now: float | None = None) -> str | None:
    """The payload of a cookie signed for `purpose` within `max_age` seconds, else None."""
    if not value or len(value) > 4096:
        return None
    parts = value.split(".")
    if len(parts) != 3:
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _mac(secret, purpose, body)) or not parts[1].isdigit():
        return None
    if (time.time() if now is None else now) - int(parts[1]) > max_age:
        return None
    try:
        return _unb64(parts[0]).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def session_max_age(settings: Settings) -> int:
    return int(settings.web.session_days * 86400)


def secure_cookies(settings: Settings) -> bool:
    return settings.web.public_url.lower().startswith("https://")


def session_token(request: Request, settings: Settings) -> str | None:
    """The session token of a validly signed session cookie (the database says if it is live)."""
    raw = request.cookies.get(SESSION_COOKIE)
    return unsign(settings.web.secret_key, "session", raw, session_max_age(settings))


# -- the local login -------------------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def local_login_refusal(request: Request, settings: Settings) -> str | None:
    """Why this request may not use the local login, or None when it may.

    Only the machine's owner may: the connection must come from loopback, name a loopback host (a
    web page elsewhere cannot reach it through DNS rebinding) and not be relayed by a proxy (whose
    own connection is local, but whose client is not). Configuring Discord login turns it off."""
    if settings.web.oauth_configured:
        return "the local login is off because Log in with Discord is configured"
    relayed = any(name in request.headers for name in FORWARDING_HEADERS)
    client = request.client.host if request.client else None
    if relayed or not _is_loopback(client) or not _is_loopback(request.url.hostname):
        return "the local login only works in a browser on the machine Atelier runs on (http://127.0.0.1)"
    return None


# -- Discord OAuth2 --------------------------------------------------------------------------------


class DiscordError(Exception):
    """Discord refused or did not answer; the message is for the person logging in."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class DiscordAccount:
    id: int
    name: str


def api_base(settings: Settings) -> str:
    return (settings.discord.discord_api_base or DISCORD_API).rstrip("/")


def redirect_uri(settings: Settings) -> str:
    return settings.web.public_url.rstrip("/") + CALLBACK_PATH


def scopes(settings: Settings) -> str:
    """`identify`, plus reading the member's roles in the guild when a guild is configured."""
    return "identify guilds.members.read" if settings.discord.discord_guild_id else "identify"


def authorize_url(settings: Settings, state: str) -> str:
    base = f"{api_base(settings)}/oauth2/authorize" if settings.discord.discord_api_base else DISCORD_AUTHORIZE
    query = {
        "client_id": settings.web.oauth_client_id,
        "redirect_uri": redirect_uri(settings),
        "response_type": "code",
        "scope": scopes(settings),
        "state": state,
        "prompt": "none",
    }
    return f"{base}?{urllib.parse.urlencode(query)}"


def _call(request: urllib.request.Request) -> Any:
    request.add_header("User-Agent", USER_AGENT)
    request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise DiscordError(f"Discord answered {error.code}", status=error.code) from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        raise DiscordError(f"Discord could not be reached ({type(error).__name__}); try again") from None


def exchange_code(settings: Settings, code: str) -> str:
    """The member's access token for the authorization code Discord sent back."""
    form = urllib.parse.urlencode(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri(settings)}
    ).encode()
    credentials = f"{settings.web.oauth_client_id}:{settings.web.oauth_client_secret}".encode()
    request = urllib.request.Request(f"{api_base(settings)}/oauth2/token", data=form, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    request.add_header("Authorization", f"Basic {base64.b64encode(credentials).decode()}")
    try:
        answer = _call(request)
    except DiscordError as error:
        if 400 <= error.status < 500:
            raise DiscordError("Discord did not accept this login (it expired or was used already)", 400) from None
        raise
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise DiscordError("Discord's answer had no access token")
    return token


def _get(settings: Settings, path: str, token: str) -> Any:
    request = urllib.request.Request(f"{api_base(settings)}{path}")
    request.add_header("Authorization", f"Bearer {token}")
    return _call(request)


def fetch_account(settings: Settings, token: str) -> DiscordAccount:
    user = _get(settings, "/users/@me", token)
    if not isinstance(user, dict) or not str(user.get("id", "")).isdigit():
        raise DiscordError("Discord's answer did not say who logged in")
    name = user.get("global_name") or user.get("username") or f"member {user['id']}"
    return DiscordAccount(int(user["id"]), str(name))


def fetch_roles(settings: Settings, token: str) -> set[str] | None:
    """The member's role ids in the configured guild, or None when they are not in it."""
    guild = settings.discord.discord_guild_id
    try:
        member = _get(settings, f"/users/@me/guilds/{urllib.parse.quote(guild)}/member", token)
    except DiscordError as error:
        if error.status == 404:
            return None
        raise
    roles = member.get("roles") if isinstance(member, dict) else None
    return {str(role) for role in roles} if isinstance(roles, list) else set()
