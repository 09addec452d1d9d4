"""The gallery's worker threads: few for pages, and slow work kept off them."""

from __future__ import annotations

import threading
import time

import anyio.to_thread
import httpx
import pytest
from fastapi.testclient import TestClient

from atelier.settings import Settings, load_settings
from gallery.app import create_app
from tests.gallery.conftest import consent, start_discord_login
from tests.helpers.fake_discord_oauth import FakeDiscordOAuth


def test_pages_get_the_configured_number_of_threads(registered: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIER_PAGE_THREADS", "3")
    with TestClient(create_app(load_settings())) as client:
        assert client.portal is not None
        threads = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert threads == 3


def test_a_login_waiting_on_discord_holds_no_page_thread(
    oauth_settings: Settings, fake_oauth: FakeDiscordOAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one page thread, a member's login stuck in the exchange with a slow Discord leaves the
    pages answering; the login finishes once Discord answers."""
    monkeypatch.setenv("ATELIER_PAGE_THREADS", "1")
    with TestClient(create_app(load_settings()), follow_redirects=False) as client:
        callback = consent(start_discord_login(client))
        fake_oauth.answering.clear()
        logins: list[httpx.Response] = []
        login = threading.Thread(target=lambda: logins.append(client.get(callback)))
        try:
            login.start()
            deadline = time.monotonic() + 10
            while not fake_oauth.token_requests and time.monotonic() < deadline:
                time.sleep(0.01)
            assert fake_oauth.token_requests, "the login never reached Discord"
            pages: list[httpx.Response] = []
            page = threading.Thread(target=lambda: pages.append(client.get("/healthz")))
            page.start()
            page.join(10)
            assert [response.status_code for response in pages] == [200]
            assert login.is_alive()  # still waiting on Discord
        finally:
            fake_oauth.answering.set()
            login.join(10)
    assert [response.status_code for response in logins] == [303]
