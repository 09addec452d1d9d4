"""Moderation in headless Chromium, through the real Discord login: a member reports an image from its
page, a moderator opens the report queue and hides it, and the image is gone from the member's feed."""

from __future__ import annotations

from playwright.sync_api import Page

from atelier.settings import Settings
from gallery.app import create_app
from tests.gallery.factories import add_image
from tests.helpers.browser import browser_marks, chromium_page, serving
from tests.helpers.fake_discord_oauth import MEMBER_ROLE, MODERATOR_ROLE, FakeDiscordOAuth, FakeUser

pytestmark = browser_marks()

MEMBER = FakeUser(410_000_000_000_000_011, "ada", "Ada", [MEMBER_ROLE])
MODERATOR = FakeUser(410_000_000_000_000_012, "mo", "Mo", [MODERATOR_ROLE])


def log_in(page: Page, fake: FakeDiscordOAuth, user: FakeUser, landing: str) -> None:
    """Press "Log in with Discord" on the login page the browser is on; (fake) Discord approves as `user`."""
    fake.next_user = user
    page.click("[data-role=discord-login]")
    page.wait_for_url(landing)


def test_member_reports_moderator_hides_feed_drops_it(
    registered: Settings, fake_oauth: FakeDiscordOAuth, oauth_settings: Settings
) -> None:
    """Report with a reason → thanked; /mod/reports shows it → Hide image → gone from the member's feed."""
    reported = add_image(registered, "a red circle on a blue background", owner="Bo")["image_id"]
    add_image(registered, "a green square on a black background", owner="Bo")
    app = create_app(oauth_settings)
    with serving(app) as url, chromium_page() as page:
        oauth_settings.web.public_url = url  # Discord sends the browser back to the served address
        page.goto(f"{url}/images/{reported}")
        page.click("[data-role=login-link]")
        log_in(page, fake_oauth, MEMBER, f"{url}/images/{reported}")
        page.click("[data-role=report] summary")
        page.fill("#report-reason", "gore in a channel for everyone")
        page.click("[data-role=report] button[type=submit]")
        page.wait_for_selector("[data-role=report-sent]")

        moderator_context = page.context.browser.new_context()  # type: ignore[union-attr]
        mod_page = moderator_context.new_page()
        mod_page.set_default_timeout(15_000)
        mod_page.goto(f"{url}/mod/reports")
        mod_page.wait_for_url(f"{url}/login?next=%2Fmod%2Freports")
        log_in(mod_page, fake_oauth, MODERATOR, f"{url}/mod/reports")
        entry = mod_page.locator(f'[data-role=reported][data-image-id="{reported}"]')
        assert entry.locator("[data-role=reason]").inner_text() == "gore in a channel for everyone"
        assert "Ada" in entry.inner_text()
        entry.locator("[data-role=hide]").click()
        mod_page.wait_for_selector("[data-role=notice]")
        assert mod_page.locator("[data-role=empty]").inner_text() == "No open reports."

        page.goto(f"{url}/")
        page.wait_for_selector(".card")
        assert page.text_content("[data-role=who]") == "Ada"
        shown = page.locator(".card a.card-image").evaluate_all("links => links.map(link => link.getAttribute('href'))")
        assert f"/images/{reported}" not in shown and len(shown) == 1
