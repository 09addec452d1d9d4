"""Buttons end to end with a real worker process: a variation of a rendered image is rendered and
delivered, and the database records which image it came from."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from atelier.db import session_scope
from atelier.schema import Image, JobState
from atelier.settings import Settings
from tests.helpers.fake_discord import FakeDiscord
from tests.helpers.processes import Process

from .actions import all_jobs, draw, image_ids, result_message

RENDER_TIMEOUT = 120.0
T = TypeVar("T")


def poll(probe: Callable[[], T | None], what: str, timeout: float = RENDER_TIMEOUT) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"no {what} within {timeout} s")


def test_variation_of_a_rendered_image_is_delivered_as_its_child(
    bot: Process, worker: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """/draw renders; 🎲 on the result renders img2img from it; the child is delivered with buttons."""
    draw(fake_discord, prompt="a red circle", steps=4, seed=7)
    (parent,) = all_jobs(registered)
    (image_id,) = poll(lambda: image_ids(registered, parent.id), "rendered image")
    message = result_message(fake_discord, image_id, timeout=RENDER_TIMEOUT)
    assert message["attachments"]
    fake_discord.press_button(message["id"], f"atelier:vary:{image_id}")
    child = poll(lambda: all_jobs(registered)[1:], "variation job", timeout=15)[0]
    (child_image,) = poll(lambda: image_ids(registered, child.id), "rendered variation")
    assert result_message(fake_discord, child_image, timeout=RENDER_TIMEOUT)["attachments"]
    with session_scope(registered.database_url) as session:
        image = session.get(Image, child_image)
        assert image is not None and image.job.parent_image_id == image_id
        assert image.job.state == JobState.DONE and image.job.recipe["denoising_strength"] == 0.4


def test_reroll_exact_of_a_rendered_image_says_it_matched(
    bot: Process, worker: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """/draw renders; /reroll-exact renders it again from the stored recipe, and the delivered result
    says the pixels are identical (the worker compared them)."""
    draw(fake_discord, prompt="a red circle", steps=4, seed=7)
    (parent,) = all_jobs(registered)
    (image_id,) = poll(lambda: image_ids(registered, parent.id), "rendered image")
    result_message(fake_discord, image_id, timeout=RENDER_TIMEOUT)
    fake_discord.send_slash_command("reroll-exact", {"image": str(image_id)})
    child = poll(lambda: all_jobs(registered)[1:], "exact job", timeout=15)[0]
    (again,) = poll(lambda: image_ids(registered, child.id), "re-rendered image")
    message = result_message(fake_discord, again, timeout=RENDER_TIMEOUT)
    assert f"✅ exact: the pixels are identical to image #{image_id}" in message["content"]
    assert all_jobs(registered)[1].exact_match is True
