"""Logging in and voting in headless Chromium: the local owner login, and Log in with Discord
through the fake OAuth server, then the vote button's script updating the count in place."""

from __future__ import annotations

import re

import pytest

from atelier.services.logins import LOCAL_OWNER_NAME
from atelier.settings import Settings
from gallery.app import create_app
from tests.gallery.factories import add_image
from tests.helpers.browser import browser_marks, chromium_page, serving
from tests.helpers.fake_discord_oauth import FakeDiscordOAuth

pytestmark = browser_marks()


def test_local_login_then_vote(base_url: str, registered: Settings) -> None:
    """The owner logs in locally from the header link, votes on a card (count 0 → 1, kept after a
    reload) and takes the vote back, all without leaving the feed."""
    add_image(registered, "a yellow triangle on a purple background", owner="Ada")
    with chromium_page() as page:
        page.goto(base_url + "/")
        page.click("[data-role=login-link]")
        page.wait_for_url(re.compile(r"/login\?next="))
        assert "owner only" in (page.text_content("[data-role=local-login]") or "")
        page.click("[data-role=local-login] button[type=submit]")
        page.wait_for_url(base_url + "/")
        assert page.text_content("[data-role=who]") == LOCAL_OWNER_NAME + " moderator"
        button = page.locator(".card button.vote")
        assert button.get_attribute("aria-pressed") == "false"
        button.click()
        page.wait_for_selector(".card button.vote[aria-pressed=true]")
        assert page.url == base_url + "/"  # updated in place, no reload
        assert page.text_content(".card [data-role=vote-count]") == "1"
        page.reload()
        assert page.text_content(".card [data-role=vote-count]") == "1"
        page.locator(".card button.vote").click()
        page.wait_for_selector(".card button.vote[aria-pressed=false]")
        assert page.text_content(".card [data-role=vote-count]") == "0"


def test_anonymous_vote_leads_to_login(base_url: str, registered: Settings) -> None:
    """A visitor who presses the heart is taken to the login page, which says why."""
    image_id = add_image(registered, "a green square on a black background", owner="Ada")["image_id"]
    with chromium_page() as page:
        page.goto(f"{base_url}/images/{image_id}")
        page.click("button.vote")
        page.wait_for_url(re.compile(r"/login\?why=vote"))
        assert "Log in to vote" in (page.text_content("[data-role=login-reason]") or "")


def test_discord_login_in_the_browser(
    registered: Settings, monkeypatch: pytest.MonkeyPatch, fake_oauth: FakeDiscordOAuth, oauth_settings: Settings
) -> None:
    """Log in with Discord: to the (fake) consent page and back, logged in as the member, whose
    vote on an image page is counted."""
    image_id = add_image(registered, "a blue circle on an orange background", owner="Bo")["image_id"]
    app = create_app(oauth_settings)
    with serving(app) as url, chromium_page() as page:
        oauth_settings.web.public_url = url  # Discord sends the browser back to the served address
        page.goto(f"{url}/images/{image_id}")
        page.click("[data-role=login-link]")
        page.click("[data-role=discord-login]")
        page.wait_for_url(f"{url}/images/{image_id}")
        assert page.text_content("[data-role=who]") == "Ada"
        page.click("button.vote")
        page.wait_for_selector("button.vote[aria-pressed=true]")
        assert page.text_content("[data-role=vote-count]") == "1"
