"""Progress on the queued message: step counts and previews from job events, throttled edits."""

from __future__ import annotations

import base64
import io
import itertools
import time

from PIL import Image as PILImage

from atelier import events
from atelier.settings import Settings
from tests.helpers.fake_discord import FakeDiscord, Recorded, SentInteraction
from tests.helpers.processes import Process

from .actions import all_jobs, custom_ids, draw, finish_job

EDIT_INTERVAL = 2.0  # ATELIER_BOT_PROGRESS_EDIT_SECONDS default


def preview_url(color: tuple[int, int, int] = (10, 200, 10)) -> str:
    buffer = io.BytesIO()
    PILImage.new("RGB", (16, 16), color).save(buffer, format="WEBP")
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode()


def publish_progress(settings: Settings, job_id: int, step: int, total: int, **extra: object) -> None:
    events.publish(events.redis_client(settings.redis_url), "progress", job_id, step=step, total=total, **extra)


def edits(fake: FakeDiscord, sent: SentInteraction) -> list[Recorded]:
    return [r for r in fake.requests("PATCH", sent.original_path) if "rendering" in r.content]


def test_progress_edits_the_queued_message(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A progress event turns "queued" into "rendering — step 5/20" with the preview attached."""
    sent = draw(fake_discord, prompt="a red circle")
    job_id = all_jobs(registered)[0].id
    publish_progress(registered, job_id, 5, 20, preview=preview_url())
    edit = fake_discord.wait_for(
        lambda r: r.method == "PATCH" and r.path == sent.original_path and "rendering" in r.content, timeout=10
    )
    assert edit.content == "rendering — step 5/20"
    (preview,) = edit.files
    assert preview.filename.endswith(".webp") and preview.data.startswith(b"RIFF")
    assert custom_ids(fake_discord.original(sent)) == [f"atelier:cancel:{job_id}"]


def test_progress_edits_are_throttled(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Ten events in a second make at most one edit per interval, and the last edit shows the latest step."""
    sent = draw(fake_discord, prompt="a red circle")
    job_id = all_jobs(registered)[0].id
    for step in range(1, 11):
        publish_progress(registered, job_id, step, 20)
        time.sleep(0.1)
    fake_discord.wait_for(lambda r: r.path == sent.original_path and r.content.endswith("10/20"), timeout=10)
    time.sleep(EDIT_INTERVAL)
    made = edits(fake_discord, sent)
    assert 1 <= len(made) <= 2, [r.content for r in made]
    assert made[-1].content == "rendering — step 10/20"
    every_edit = fake_discord.requests("PATCH", sent.original_path)  # the "queued" edit counts too
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(every_edit)]
    assert all(gap >= EDIT_INTERVAL - 0.2 for gap in gaps), gaps


def test_finished_job_leaves_a_settled_queued_message(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """Once the result is posted, the queued message says done, without preview or cancel button."""
    sent = draw(fake_discord, prompt="a red circle")
    job_id = all_jobs(registered)[0].id
    publish_progress(registered, job_id, 5, 20, preview=preview_url())
    fake_discord.wait_for(lambda r: r.path == sent.original_path and "rendering" in r.content, timeout=10)
    finish_job(registered, job_id)
    message = fake_discord.wait_for_message(
        lambda m: m["id"] == fake_discord.original(sent)["id"] and "done" in m["content"], timeout=15
    )
    assert custom_ids(message) == [] and message["attachments"] == []
