"""The gallery in headless Chromium: the form, inline errors, a live job page, the feed's look,
its infinite scroll and the search form."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from atelier.db import session_scope
from atelier.services import jobs
from atelier.settings import Settings
from atelier.storage import store_image
from gallery.routes import feed as feed_routes
from tests.gallery.factories import add_image, job_count, picture
from tests.helpers.browser import browser_marks, chromium_page

pytestmark = browser_marks()

FEED_PROMPTS = [
    "a red circle on a blue background",
    "a yellow triangle on a purple background",
    "a green square on a black background",
    "a blue circle on an orange background",
    "a white triangle on a green background",
    "an orange square on a blue background",
    "a purple circle on a yellow background",
    "a red triangle on a white background",
    "a yellow square on a red background",
    "a green circle on a purple background",
]


def test_form_submit_lands_on_job_page(base_url: str, registered: Settings) -> None:
    """Filling the form and pressing Draw queues one job and shows its live page."""
    with chromium_page() as page:
        page.goto(base_url + "/")
        page.fill("#f-prompt", "a red circle on a blue background")
        page.select_option("#f-sampler", "DDIM")
        page.fill("#f-steps", "6")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/jobs/\d+$"))
        assert page.text_content("[data-role=state]") == "queued"
        assert "1 in the queue" in (page.text_content("[data-role=where]") or "")
    assert job_count(registered) == 1


def test_bad_input_shows_inline_message(base_url: str, registered: Settings) -> None:
    """A bad value comes back as a message beside its field, with the prompt still typed in."""
    with chromium_page() as page:
        page.goto(base_url + "/")
        page.fill("#f-prompt", "a green square")
        page.fill("#f-width", "100")
        page.click("button[type=submit]")
        message = page.locator("#error-width")
        message.wait_for()
        assert "multiple of 8" in message.text_content()
        assert page.input_value("#f-prompt") == "a green square"
        assert page.get_attribute("#f-width", "aria-invalid") == "true"
    assert job_count(registered) == 0


def test_job_page_follows_render_to_image(base_url: str, registered: Settings) -> None:
    """An open job page notices the render finish and moves to the new image's page by itself."""
    with chromium_page() as page:
        page.goto(base_url + "/")
        page.fill("#f-prompt", "a yellow triangle on a purple background")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/jobs/\d+$"))
        job_id = int(page.url.rsplit("/", 1)[1])
        page.wait_for_timeout(300)  # the page is subscribed to its event stream
        _render(registered, job_id)
        page.wait_for_url(re.compile(r"/images/\d+$"))
        assert "a yellow triangle on a purple background" in (page.text_content("h1") or "")
        assert page.evaluate("document.querySelector('img.full').naturalWidth") == 64


def test_feed_screenshot(base_url: str, registered: Settings, tmp_path: Path) -> None:
    """The feed loads every thumbnail of a grid of images in a real browser."""
    now = datetime.now(UTC)
    for minutes, prompt in enumerate(FEED_PROMPTS):
        add_image(registered, prompt, size=256, seed=1000 + minutes, created_at=now - timedelta(minutes=3 * minutes))
    with chromium_page(1280, 900) as page:
        page.goto(base_url + "/")
        page.wait_for_load_state("networkidle")
        loaded = page.evaluate("[...document.querySelectorAll('.grid img')].map(i => i.complete && i.naturalWidth)")
        assert len(loaded) == len(FEED_PROMPTS)
        assert all(width and width > 0 for width in loaded)
        shot = tmp_path / "feed.png"
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_feed_scrolls_in_every_page(base_url: str, registered: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrolling down appends the next pages' cards in place, each image once, until the end."""
    monkeypatch.setattr(feed_routes, "FEED_PAGE_SIZE", 4)
    now = datetime.now(UTC)
    for minutes, prompt in enumerate(FEED_PROMPTS):
        add_image(registered, prompt, seed=2000 + minutes, created_at=now - timedelta(minutes=minutes))
    with chromium_page(1280, 700) as page:
        page.goto(base_url + "/")
        page.evaluate("window.stayedOnPage = true")
        the_end = page.locator("#feed-more", has_text="That is everything")
        for _ in range(20):
            if the_end.count():
                break
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            page.wait_for_timeout(250)
        the_end.wait_for()
        prompts = page.eval_on_selector_all(".grid .card-prompt", "links => links.map(a => a.textContent)")
        assert prompts == FEED_PROMPTS
        assert page.evaluate("window.stayedOnPage") is True  # appended by the script, not a page load
        assert page.url == base_url + "/"


def test_search_form_round_trip(base_url: str, registered: Settings) -> None:
    """Searching with filters lands on a shareable URL that lists the matches and refills the form."""
    add_image(registered, "a red circle on a blue background", sampler="DDIM")
    add_image(registered, "a red square on a green background", sampler="Euler a")
    add_image(registered, "a blue circle on a yellow background", sampler="DDIM")
    with chromium_page() as page:
        page.goto(base_url + "/")
        page.fill("#s-q", "red")
        page.click("#search summary")
        page.select_option("#s-sampler", "DDIM")
        page.fill("#s-size", "64x64")
        page.click("#search button[type=submit]")
        page.wait_for_url(re.compile(r"q=red"))
        shared = page.url
        assert "sampler=DDIM" in shared and "size=64x64" in shared
        prompts = page.eval_on_selector_all(".grid .card-prompt", "links => links.map(a => a.textContent)")
        assert prompts == ["a red circle on a blue background"]
        page.goto(base_url + "/")
        page.goto(shared)
        assert page.input_value("#s-q") == "red"
        assert page.input_value("#s-sampler") == "DDIM"
        assert page.input_value("#s-size") == "64x64"
        page.fill("#s-size", "huge")
        page.click("#search button[type=submit]")
        message = page.locator("#search-error-size")
        message.wait_for()
        assert (message.text_content() or "").startswith("Size: ")
        assert page.get_attribute("#s-size", "aria-invalid") == "true"


def _render(settings: Settings, job_id: int) -> None:
    """Finish the job the way a worker does (claim, store, complete and publish)."""
    from atelier import events

    stored = store_image(settings.paths.images_dir, picture("a yellow triangle on a purple background", 64), "x")
    record = jobs.ImageRecord(index=0, seed=5, infotext="x", **stored.__dict__)
    client = events.redis_client(settings.redis_url)
    with session_scope(settings.database_url) as session:
        assert jobs.claim(session, job_id, "browser-test", 60) is not None
        assert jobs.complete(session, client, job_id, "browser-test", [record])
    client.close()


def test_uploaded_picture_starts_an_img2img_job(base_url: str, registered: Settings, tmp_path: Path) -> None:
    """Choosing a file uploads it, fills the init image and a denoise, and Draw queues an img2img job."""
    upload = tmp_path / "mine.png"
    picture("a red circle", 64).save(upload)
    with chromium_page() as page:
        page.goto(base_url + "/draw")
        page.fill("#f-prompt", "a red circle")
        page.click("summary")
        page.set_input_files("#f-init_upload", str(upload))
        deadline = time.monotonic() + 15  # the page's CSP forbids wait_for_function's eval: poll instead
        while not page.input_value("#f-init_image").endswith(".png") and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert page.input_value("#f-denoising_strength") == "0.6"
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/jobs/\d+$"))
    with session_scope(registered.database_url) as session:
        from atelier.schema import Job

        recipe = session.query(Job).one().recipe
    assert recipe["init_image"].endswith(".png") and recipe["denoising_strength"] == 0.6


def test_live_prompt_check_counts_tokens_and_shows_problems(base_url: str, registered: Settings) -> None:
    """Typing shows A1111's token count; an unknown LoRA tag shows its problem before anything is sent."""
    with chromium_page() as page:
        page.goto(base_url + "/draw")
        page.fill("#f-prompt", "a red circle <lora:nothere:1>")
        page.wait_for_selector("[data-role=prompt-check] .token-count")
        assert re.fullmatch(r"tokens \d+/75", page.text_content("[data-role=prompt-check] .token-count") or "")
        assert "unknown LoRA 'nothere'" in (page.text_content("[data-role=prompt-check] .check-error") or "")
    assert job_count(registered) == 0
