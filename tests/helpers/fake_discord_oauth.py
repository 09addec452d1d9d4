"""A fake of Discord's OAuth2 endpoints and the two REST calls a login makes, served on loopback.

The gallery's login is tested through its real HTTP path: it sends the browser to `/oauth2/authorize`,
exchanges the code at `/oauth2/token` and reads `/users/@me` and `/users/@me/guilds/{guild}/member`
with the member's token, at `ATELIER_DISCORD_API_BASE`. This fake answers those the way Discord
documents (developers/topics/oauth2): a code works once and only with the redirect URI it was issued
for, the token endpoint takes HTTP Basic client credentials, a bearer token reads only what its
scopes allow, and a user outside the guild gets 404 "Unknown Guild". The consent screen approves
at once as `next_user` (or denies, when that is None), so a browser test can click through it.

It is a separate app from `tests.helpers.fake_discord` (the bot's REST and gateway fake) because the
two are used by different processes and share nothing but the URL prefix.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.helpers.browser import serving

API_PREFIX = "/api/v10"
CLIENT_ID = "900000000000000077"
CLIENT_SECRET = "fake-oauth-client-secret"
GUILD_ID = "700000000000000001"
MODERATOR_ROLE = "720000000000000001"
MEMBER_ROLE = "720000000000000002"


@dataclass
class FakeUser:
    id: int
    username: str
    global_name: str | None = None
    roles: list[str] | None = field(default_factory=list)  # None: not a member of the guild


@dataclass
class _Code:
    user: FakeUser
    redirect_uri: str
    scope: str


class FakeDiscordOAuth:
    """`with FakeDiscordOAuth.running() as fake:`; point the gallery at it with `fake.env()`."""

    def __init__(self) -> None:
        self.base = ""
        self.next_user: FakeUser | None = FakeUser(410_000_000_000_000_001, "ada", "Ada")
        self.token_requests: list[dict[str, str]] = []
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, _Code] = {}
        self._lock = threading.Lock()
        # Cleared, the token endpoint keeps each exchange waiting (Discord being slow) until it is set.
        self.answering = threading.Event()
        self.answering.set()

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[FakeDiscordOAuth]:
        fake = cls()
        with serving(fake.app()) as url:
            fake.base = url
            yield fake

    @property
    def api_base(self) -> str:
        return self.base + API_PREFIX

    def env(self, *, guild: bool = True) -> dict[str, str]:
        """Settings that make the gallery log in here, moderators being holders of MODERATOR_ROLE."""
        return {
            "ATELIER_OAUTH_CLIENT_ID": CLIENT_ID,
            "ATELIER_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
            "ATELIER_DISCORD_API_BASE": self.api_base,
            "ATELIER_DISCORD_GUILD_ID": GUILD_ID if guild else "",
            "ATELIER_MODERATOR_ROLE_IDS": MODERATOR_ROLE,
        }

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(f"{API_PREFIX}/oauth2/authorize", self._authorize),
                Route(f"{API_PREFIX}/oauth2/token", self._token, methods=["POST"]),
                Route(f"{API_PREFIX}/users/@me", self._me),
                Route(f"{API_PREFIX}/users/@me/guilds/{{guild}}/member", self._member),
            ]
        )

    # -- endpoints ---------------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return JSONResponse({"message": "Invalid OAuth2 request"}, status_code=400)
        redirect_uri = query.get("redirect_uri", "")
        state = {"state": query["state"]} if "state" in query else {}
        user = self.next_user
        if user is None:
            return RedirectResponse(f"{redirect_uri}?{urlencode({'error': 'access_denied', **state})}", 302)
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = _Code(user, redirect_uri, query.get("scope", ""))
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, **state})}", 302)

    async def _token(self, request: Request) -> Response:
        form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
        self.token_requests.append(form)
        while not self.answering.is_set():
            await asyncio.sleep(0.01)
        auth = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        with self._lock:
            issued = self._codes.pop(form.get("code", ""), None)  # a code works once
        if form.get("grant_type") != "authorization_code" or issued is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if form.get("redirect_uri") != issued.redirect_uri:
            return JSONResponse({"error": "invalid_grant", "error_description": "Invalid redirect_uri"}, 400)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = issued
        body = {"access_token": token, "token_type": "Bearer", "expires_in": 604800, "scope": issued.scope}
        return JSONResponse({**body, "refresh_token": secrets.token_urlsafe(24)})

    def _bearer(self, request: Request) -> _Code | None:
        auth = request.headers.get("authorization", "")
        with self._lock:
            return self._tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None

    async def _me(self, request: Request) -> Response:
        grant = self._bearer(request)
        if grant is None or "identify" not in grant.scope.split():
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
        return JSONResponse(self._user_json(grant.user))

    async def _member(self, request: Request) -> Response:
        grant = self._bearer(request)
        if grant is None or "guilds.members.read" not in grant.scope.split():
            return JSONResponse({"message": "401: Unauthorized", "code": 0}, status_code=401)
        if request.path_params["guild"] != GUILD_ID or grant.user.roles is None:
            return JSONResponse({"message": "Unknown Guild", "code": 10004}, status_code=404)
        return JSONResponse({"user": self._user_json(grant.user), "roles": grant.user.roles, "nick": None})

    @staticmethod
    def _user_json(user: FakeUser) -> dict[str, Any]:
        return {"id": str(user.id), "username": user.username, "global_name": user.global_name, "avatar": None}
