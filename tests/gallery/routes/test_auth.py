"""Logging in: Discord OAuth2 against the fake (state, code exchange, members, roles), session
cookies, logout and revocation, and the local login for the machine's owner."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import Role, User
from atelier.services import logins
from atelier.settings import Settings, load_settings
from gallery.app import create_app
from gallery.login import SESSION_COOKIE, STATE_COOKIE
from tests.gallery.conftest import LOOPBACK, consent, log_in_locally, log_in_with_discord, start_discord_login
from tests.gallery.factories import add_image
from tests.helpers.fake_discord_oauth import GUILD_ID, MODERATOR_ROLE, FakeDiscordOAuth, FakeUser


def log_in(client: TestClient, next_path: str = "/") -> httpx.Response:
    return log_in_with_discord(client, next_path)


def set_cookie_header(response: httpx.Response, name: str) -> str:
    return next(value for value in response.headers.get_list("set-cookie") if value.startswith(f"{name}="))


def users(settings: Settings) -> list[tuple[int | None, str, Role]]:
    with session_scope(settings.database_url) as session:
        return [(u.discord_id, u.name, u.role) for u in session.scalars(select(User).order_by(User.id))]


# --- Discord OAuth2 -----------------------------------------------------------------------------


def test_login_sends_browser_to_discord_with_state(oauth_client: TestClient, fake_oauth: FakeDiscordOAuth) -> None:
    """The login redirects to the configured authorize endpoint with a random state, bound to a
    short-lived HttpOnly cookie, asking only `identify` and the guild member read."""
    location = start_discord_login(oauth_client)
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(fake_oauth.api_base + "/oauth2/authorize?")
    assert query["response_type"] == ["code"] and query["scope"] == ["identify guilds.members.read"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/auth/discord/callback"]
    assert len(query["state"][0]) >= 32
    cookie = oauth_client.cookies.get(STATE_COOKIE)
    assert cookie and query["state"][0] not in cookie  # signed, not the bare state
    second = parse_qs(urlsplit(start_discord_login(oauth_client)).query)["state"]
    assert second != query["state"]


def test_state_cookie_is_short_lived_and_http_only(oauth_client: TestClient) -> None:
    """The state cookie lasts ten minutes, only for the login paths, out of scripts' reach."""
    response = oauth_client.get("/auth/discord")
    header = set_cookie_header(response, STATE_COOKIE).lower()
    assert "max-age=600" in header and "httponly" in header and "samesite=lax" in header
    assert "path=/auth/discord" in header


def test_login_creates_the_member_and_a_session(
    oauth_client: TestClient, oauth_settings: Settings, fake_oauth: FakeDiscordOAuth
) -> None:
    """Code exchanged once, the member's row made from their Discord id and name, a session cookie
    set, and the browser back where the login began."""
    response = log_in(oauth_client, "/draw")
    assert response.status_code == 303 and response.headers["location"] == "/draw"
    assert len(fake_oauth.token_requests) == 1
    assert users(oauth_settings) == [(410_000_000_000_000_001, "Ada", Role.MEMBER)]
    assert 'data-role="who">Ada' in oauth_client.get("/").text


def test_session_cookie_flags(oauth_client: TestClient) -> None:
    """The session cookie is HttpOnly and SameSite=Lax (and not Secure on plain http)."""
    header = set_cookie_header(log_in(oauth_client), SESSION_COOKIE).lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/" in header
    assert "secure" not in header


def test_foreign_state_is_refused(oauth_client: TestClient, fake_oauth: FakeDiscordOAuth) -> None:
    """A callback whose state is not this browser's (another session's login) is refused, and its
    code is never exchanged."""
    callback = consent(start_discord_login(oauth_client))
    with TestClient(oauth_client.app, follow_redirects=False) as other_browser:
        other_state = parse_qs(urlsplit(start_discord_login(other_browser)).query)["state"][0]
    path, query = callback.split("?")
    code = parse_qs(query)["code"][0]
    response = oauth_client.get(path, params={"code": code, "state": other_state})
    assert response.status_code == 403 and "could not be checked" in response.text
    assert fake_oauth.token_requests == []
    assert SESSION_COOKIE not in oauth_client.cookies


def test_missing_state_is_refused(oauth_client: TestClient, fake_oauth: FakeDiscordOAuth) -> None:
    """A callback without a state, or in a browser that never started a login, is refused."""
    callback = consent(start_discord_login(oauth_client))
    path, query = callback.split("?")
    assert oauth_client.get(path, params={"code": parse_qs(query)["code"][0]}).status_code == 403
    with TestClient(oauth_client.app, follow_redirects=False) as stranger:
        assert stranger.get(callback).status_code == 403
    assert fake_oauth.token_requests == []


def test_replayed_code_is_refused(oauth_client: TestClient, fake_oauth: FakeDiscordOAuth) -> None:
    """A code that was already exchanged does not log anyone in a second time."""
    callback = consent(start_discord_login(oauth_client))
    assert oauth_client.get(callback).status_code == 303
    with TestClient(oauth_client.app, follow_redirects=False) as attacker:
        state = parse_qs(urlsplit(start_discord_login(attacker)).query)["state"][0]
        code = parse_qs(callback.split("?")[1])["code"][0]
        response = attacker.get("/auth/discord/callback", params={"code": code, "state": state})
        assert response.status_code == 400 and "used already" in response.text
        assert SESSION_COOKIE not in attacker.cookies


def test_cancelled_consent_logs_nobody_in(
    oauth_client: TestClient, oauth_settings: Settings, fake_oauth: FakeDiscordOAuth
) -> None:
    """When the person cancels on Discord, the callback says so and makes no member."""
    fake_oauth.next_user = None
    response = log_in(oauth_client)
    assert response.status_code == 400 and "cancelled" in response.text
    assert users(oauth_settings) == []


def test_moderator_role_makes_a_moderator(
    oauth_client: TestClient, oauth_settings: Settings, fake_oauth: FakeDiscordOAuth, registered: Settings
) -> None:
    """A member holding a moderator role in the guild is a moderator: hidden images show to them."""
    hidden = add_image(registered, "a hidden purple circle", hidden=True)["image_id"]
    assert oauth_client.get(f"/images/{hidden}").status_code == 404
    fake_oauth.next_user = FakeUser(410_000_000_000_000_002, "mo", "Mo", roles=[MODERATOR_ROLE])
    log_in(oauth_client)
    assert users(oauth_settings) == [(410_000_000_000_000_002, "Mo", Role.MODERATOR)]
    assert oauth_client.get(f"/images/{hidden}").status_code == 200


def test_losing_the_role_makes_a_member_again(
    oauth_client: TestClient, oauth_settings: Settings, fake_oauth: FakeDiscordOAuth
) -> None:
    """Roles are read at each login: without the moderator role the next login is a member's."""
    fake_oauth.next_user = FakeUser(410_000_000_000_000_002, "mo", "Mo", roles=[MODERATOR_ROLE])
    log_in(oauth_client)
    fake_oauth.next_user = FakeUser(410_000_000_000_000_002, "mo", "Mo", roles=[])
    log_in(oauth_client)
    assert users(oauth_settings)[0][2] == Role.MEMBER


def test_login_records_the_members_discord_roles(
    oauth_client: TestClient, oauth_settings: Settings, fake_oauth: FakeDiscordOAuth
) -> None:
    """The guild roles read at login are stored with the member, for per-role quotas on web jobs."""
    fake_oauth.next_user = FakeUser(410_000_000_000_000_004, "sam", "Sam", roles=["730000000000000002", MODERATOR_ROLE])
    log_in(oauth_client)
    with session_scope(oauth_settings.database_url) as session:
        (user,) = session.scalars(select(User)).all()
        assert user.discord_role_ids == sorted([730_000_000_000_000_002, int(MODERATOR_ROLE)])


def test_non_member_of_the_guild_is_refused(
    oauth_client: TestClient, oauth_settings: Settings, fake_oauth: FakeDiscordOAuth
) -> None:
    """With a guild configured, a Discord account outside it cannot log in."""
    fake_oauth.next_user = FakeUser(410_000_000_000_000_003, "stranger", roles=None)
    response = log_in(oauth_client)
    assert response.status_code == 403 and "not a member" in response.text
    assert users(oauth_settings) == []


def test_without_guild_only_identify_is_asked(
    registered: Settings, fake_oauth: FakeDiscordOAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No guild configured: scope `identify` only, and the member logs in without a role lookup."""
    for key, value in fake_oauth.env(guild=False).items():
        monkeypatch.setenv(key, value)
    with TestClient(create_app(load_settings()), follow_redirects=False) as client:
        location = start_discord_login(client)
        assert parse_qs(urlsplit(location).query)["scope"] == ["identify"]
        assert client.get(consent(location)).status_code == 303
    assert GUILD_ID not in location


def test_discord_unreachable_is_a_clear_error(
    oauth_settings: Settings, registered: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If Discord does not answer the code exchange, the page says so (502), never a 500."""
    monkeypatch.setenv("ATELIER_DISCORD_API_BASE", "http://127.0.0.1:1/api/v10")
    with TestClient(create_app(load_settings()), follow_redirects=False) as client:
        state = parse_qs(urlsplit(start_discord_login(client)).query)["state"][0]
        response = client.get("/auth/discord/callback", params={"code": "x", "state": state})
    assert response.status_code == 502 and "could not be reached" in response.text


# --- sessions -------------------------------------------------------------------------------------


def test_logout_ends_the_session(oauth_client: TestClient) -> None:
    """Logging out clears the cookie, and the old cookie no longer logs in."""
    log_in(oauth_client)
    old = oauth_client.cookies[SESSION_COOKIE]
    with TestClient(oauth_client.app, cookies={SESSION_COOKIE: old}) as copy:
        assert 'data-role="who"' in copy.get("/").text
        response = oauth_client.post("/auth/logout")
        assert response.status_code == 303
        assert SESSION_COOKIE not in oauth_client.cookies
        assert 'data-role="login-link"' in copy.get("/").text


def test_revoked_session_is_refused(oauth_client: TestClient, oauth_settings: Settings) -> None:
    """After the member's sessions are revoked, their cookie shows an anonymous page."""
    log_in(oauth_client)
    assert 'data-role="who"' in oauth_client.get("/").text
    with session_scope(oauth_settings.database_url) as session:
        ids = list(session.scalars(select(User.id)))
        assert logins.revoke_all(session, ids) == 1
    assert 'data-role="who"' not in oauth_client.get("/").text


def test_log_out_everywhere_ends_other_browsers(oauth_client: TestClient) -> None:
    """ "Log out everywhere" in one browser logs the member out of their other browsers too."""
    log_in(oauth_client)
    with TestClient(oauth_client.app, follow_redirects=False) as laptop:
        log_in(laptop)
        assert 'data-role="who"' in laptop.get("/").text
        oauth_client.post("/auth/logout", data={"everywhere": "1"})
        assert 'data-role="who"' not in laptop.get("/").text


def test_tampered_session_cookie_is_anonymous(oauth_client: TestClient) -> None:
    """A session cookie changed by hand fails its signature and logs nobody in."""
    log_in(oauth_client)
    value = oauth_client.cookies[SESSION_COOKIE]
    oauth_client.cookies.clear()
    oauth_client.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert 'data-role="login-link"' in oauth_client.get("/").text


def test_logout_refuses_other_sites(oauth_client: TestClient) -> None:
    """A logout posted from another site is refused and the member stays logged in."""
    log_in(oauth_client)
    response = oauth_client.post("/auth/logout", headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert 'data-role="who"' in oauth_client.get("/").text


# --- the local login --------------------------------------------------------------------------------


def test_local_login_page_is_clearly_marked(local_client: TestClient) -> None:
    """Without Discord login, the login page on loopback offers the marked owner-only login."""
    html = local_client.get("/login").text
    assert 'data-role="local-login"' in html and "this machine's owner only" in html


def test_local_login_makes_the_owner_an_admin(local_client: TestClient, registered: Settings) -> None:
    """From loopback the owner logs in as the local admin, who sees hidden images."""
    hidden = add_image(registered, "a hidden purple circle", hidden=True)["image_id"]
    log_in_locally(local_client)
    assert users(registered) == [(None, logins.LOCAL_OWNER_NAME, Role.ADMIN)]
    assert local_client.get(f"/images/{hidden}").status_code == 200


def test_local_login_refused_from_another_machine(client: TestClient, registered: Settings) -> None:
    """A request from a non-loopback address cannot use the local login."""
    response = client.post("/auth/local", follow_redirects=False)
    assert response.status_code == 403 and "machine Atelier runs on" in response.text
    assert users(registered) == []
    assert 'data-role="no-login"' in client.get("/login").text


@pytest.mark.parametrize(
    "headers",
    [{"x-forwarded-for": "203.0.113.9"}, {"forwarded": "for=203.0.113.9"}, {"host": "gallery.example.org"}],
)
def test_local_login_refused_through_a_proxy_or_foreign_host(
    local_client: TestClient, registered: Settings, headers: dict[str, str]
) -> None:
    """A loopback connection relaying someone else (a proxy) or naming another host is refused."""
    assert local_client.post("/auth/local", headers=headers).status_code == 403
    assert users(registered) == []


def test_local_login_off_once_discord_login_is_configured(oauth_settings: Settings) -> None:
    """With OAuth configured the local login is refused even on loopback, and not offered."""
    with TestClient(create_app(oauth_settings), follow_redirects=False, **LOOPBACK) as local:  # type: ignore[arg-type]
        response = local.post("/auth/local")
        assert response.status_code == 403 and "Log in with Discord is configured" in response.text
        html = local.get("/login").text
        assert 'data-role="discord-login"' in html and 'data-role="local-login"' not in html


def test_local_login_refuses_other_sites(local_client: TestClient, registered: Settings) -> None:
    """The local login posted from another site's page is refused."""
    response = local_client.post("/auth/local", headers={"origin": "https://evil.example"})
    assert response.status_code == 403
    assert users(registered) == []


def test_session_cookie_secure_over_https(registered: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the gallery's public URL is https, the session cookie is marked Secure."""
    monkeypatch.setenv("ATELIER_PUBLIC_URL", "https://gallery.example.org")
    with TestClient(create_app(load_settings()), follow_redirects=False, **LOOPBACK) as local:  # type: ignore[arg-type]
        response = local.post("/auth/local")
    assert "secure" in set_cookie_header(response, SESSION_COOKIE).lower()


def test_discord_login_not_configured_is_404(client: TestClient) -> None:
    """Without OAuth settings, the Discord login routes say they are not configured."""
    response = client.get("/auth/discord", follow_redirects=False)
    assert response.status_code == 404 and "not configured" in response.text


def test_moderator_gets_hidden_image_files_uncached(local_client: TestClient, registered: Settings) -> None:
    """A hidden image's file is 404 to visitors but served to a moderator, never cached publicly."""
    made = add_image(registered, "a hidden purple circle", hidden=True)
    assert local_client.get(f"/files/{made['file_path']}").status_code == 404
    log_in_locally(local_client)
    response = local_client.get(f"/files/{made['file_path']}")
    assert response.status_code == 200 and response.headers["cache-control"] == "private, no-store"
