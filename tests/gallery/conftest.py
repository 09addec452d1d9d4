"""Gallery fixtures: a TestClient on a migrated database whose store's checkpoint is registered, a
client on loopback (for the local login), and a gallery logging in through the fake Discord OAuth."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from atelier.settings import Settings, load_settings
from gallery.app import create_app
from tests.helpers.fake_discord_oauth import FakeDiscordOAuth


@pytest.fixture
def client(registered: Settings) -> Iterator[TestClient]:
    """The gallery app, started (lifespan run) against the test's database and Redis."""
    with TestClient(create_app(registered)) as test_client:
        yield test_client


# A browser on the machine itself: the connection and the Host header are loopback.
LOOPBACK = {"base_url": "http://127.0.0.1:8000", "client": ("127.0.0.1", 50123)}


@pytest.fixture
def local_client(registered: Settings) -> Iterator[TestClient]:
    """The gallery as the machine's owner reaches it (loopback), not logged in yet; no auto-redirects."""
    with TestClient(create_app(registered), follow_redirects=False, **LOOPBACK) as test_client:  # type: ignore[arg-type]
        yield test_client


def log_in_locally(client: TestClient) -> None:
    """Press the local login button (the client must be on loopback)."""
    response = client.post("/auth/local", data={"next": "/"})
    assert response.status_code == 303, response.text


@pytest.fixture
def fake_oauth() -> Iterator[FakeDiscordOAuth]:
    with FakeDiscordOAuth.running() as fake:
        yield fake


@pytest.fixture
def oauth_settings(registered: Settings, fake_oauth: FakeDiscordOAuth, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings with Log in with Discord configured against the fake, with a guild."""
    for key, value in fake_oauth.env().items():
        monkeypatch.setenv(key, value)
    return load_settings()


@pytest.fixture
def oauth_client(oauth_settings: Settings) -> Iterator[TestClient]:
    """A browser elsewhere (not loopback) on a gallery with Discord login; no auto-redirects."""
    with TestClient(create_app(oauth_settings), follow_redirects=False) as test_client:
        yield test_client


def start_discord_login(client: TestClient, next_path: str = "/") -> str:
    """Press "Log in with Discord"; returns the Discord authorize URL the browser is sent to."""
    response = client.get("/auth/discord", params={"next": next_path})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def consent(authorize_url: str) -> str:
    """The member approves on (fake) Discord; returns the callback path and query to follow."""
    answer = httpx.get(authorize_url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    parts = urlsplit(answer.headers["location"])
    return f"{parts.path}?{parts.query}"


def log_in_with_discord(client: TestClient, next_path: str = "/") -> httpx.Response:
    """The whole Discord login as a browser makes it; returns the callback's response."""
    return client.get(consent(start_discord_login(client, next_path)))


@pytest.fixture
def base_url(registered: Settings) -> Iterator[str]:
    """The gallery served on loopback for a real browser."""
    from tests.helpers.browser import serving

    with serving(create_app(registered)) as url:
        yield url
