"""Remix lineage in headless Chromium: remix an image from its page, watch the render finish, and land
on the child image whose lineage shows the parent and what changed."""

from __future__ import annotations

import re

from atelier import events
from atelier.db import session_scope
from atelier.services import jobs
from atelier.settings import Settings
from atelier.storage import store_image
from tests.gallery.factories import add_image, picture
from tests.helpers.browser import browser_marks, chromium_page

pytestmark = browser_marks()


def _render(settings: Settings, job_id: int) -> None:
    """Finish the job the way a worker does (claim, store, complete and publish)."""
    stored = store_image(settings.paths.images_dir, picture("a red circle on a blue background", 64), "x")
    with session_scope(settings.database_url) as session:
        job = jobs.get_job(session, job_id)
        seed = int(job.recipe["seed"])
    record = jobs.ImageRecord(index=0, seed=seed, infotext="x", **stored.__dict__)
    client = events.redis_client(settings.redis_url)
    with session_scope(settings.database_url) as session:
        assert jobs.claim(session, job_id, "browser-test", 60) is not None
        assert jobs.complete(session, client, job_id, "browser-test", [record])
    client.close()


def test_remix_lands_on_child_showing_parent_and_diff(base_url: str, registered: Settings) -> None:
    """Remix from a picture with a reweighted and an added term; the child's page shows its parent,
    the weight change, the added term and the img2img denoise."""
    parent = add_image(registered, "a red circle on a blue background", seed=11)
    with chromium_page() as page:
        page.goto(f"{base_url}/images/{parent['image_id']}")
        page.click("text=Remix from this picture")
        page.wait_for_url(re.compile(r"/draw\?"))
        assert page.input_value("#f-init_image") == str(parent["image_id"])
        page.fill("#f-prompt", "a (red:1.3) circle on a blue background, glossy")
        page.click("#draw button[type=submit]")
        page.wait_for_url(re.compile(r"/jobs/\d+$"))
        job_id = int(page.url.rsplit("/", 1)[1])
        page.wait_for_timeout(300)  # the page is subscribed to its event stream
        _render(registered, job_id)
        page.wait_for_url(re.compile(r"/images/\d+$"))
        node = page.locator(f'[data-role=lineage] [data-role=parent][data-image-id="{parent["image_id"]}"]')
        node.wait_for()
        assert "a red circle on a blue background" in node.inner_text()
        assert node.locator(".diff-added", has_text="glossy").is_visible()
        reweighted = node.locator(".diff-changed", has_text="red")
        assert reweighted.locator(".diff-old").inner_text() == "1"
        assert reweighted.locator(".diff-new").inner_text() == "1.3"
        denoise = node.locator("[data-role=diff-denoising_strength]")
        assert denoise.locator(".diff-new").inner_text() == "0.6"
        node.locator("a.lineage-link").click()
        page.wait_for_url(f"{base_url}/images/{parent['image_id']}")
        assert page.locator("[data-role=lineage] [data-role=child]").count() == 1
