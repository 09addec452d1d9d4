"""/queue, /models and /reroll-exact against the real bot process and the fake Discord."""

from __future__ import annotations

import re

from atelier.db import session_scope
from atelier.schema import JobState, ModelFile, ModelKind
from atelier.settings import Settings
from tests.helpers.fake_discord import EPHEMERAL, FakeDiscord, Recorded, SentInteraction
from tests.helpers.processes import Process

from .actions import all_jobs, custom_ids, delivered_image, draw, finish_job, image_ids, private_answer, result_message

OTHER = 300_000_000_000_000_002


def queued_edit(fake: FakeDiscord, sent: SentInteraction) -> Recorded:
    return fake.wait_for(lambda r: r.method == "PATCH" and r.path == sent.original_path and "queued" in r.content)


def test_queue_lists_own_jobs_with_places_and_cancel(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """/queue answers privately with the member's jobs, their places in line and ETAs, a ✖️ each;
    another member's job is not listed."""
    draw(fake_discord, prompt="a cat")
    draw(fake_discord, prompt="a dog", user=fake_discord.member(OTHER, "bob"))
    draw(fake_discord, prompt="a fox")
    mine = [job.id for job in all_jobs(registered) if job.recipe["prompt"] != "a dog"]
    sent = fake_discord.send_slash_command("queue")
    answer = private_answer(fake_discord, sent)
    lines = answer.content.split("\n")
    assert [int(re.match(r"`(\d+)`", line)[1]) for line in lines] == mine  # type: ignore[index]
    assert re.fullmatch(r"`\d+` #1 in line, done in about \d+ s — a cat", lines[0]), lines[0]
    assert re.fullmatch(r"`\d+` #3 in line, done in about \d+ s — a fox", lines[1]), lines[1]
    assert custom_ids(answer.json) == [f"atelier:cancel:{job_id}" for job_id in mine]


def test_cancel_from_queue_refreshes_the_listing(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """✖️ on the /queue listing cancels that job and shows the listing again without it."""
    draw(fake_discord, prompt="a cat")
    draw(fake_discord, prompt="a fox")
    first, second = (job.id for job in all_jobs(registered))
    sent = fake_discord.send_slash_command("queue")
    listing = private_answer(fake_discord, sent)
    message_id = fake_discord.wait_for_message(lambda m: m["content"] == listing.content)["id"]
    fake_discord.press_button(message_id, f"atelier:cancel:{first}")
    refreshed = fake_discord.wait_for_message(lambda m: m["id"] == message_id and "a cat" not in m["content"])
    assert custom_ids(refreshed) == [f"atelier:cancel:{second}"]
    assert [job.state for job in all_jobs(registered)] == [JobState.CANCELLED, JobState.QUEUED]


def test_queue_when_empty_says_so(bot: Process, fake_discord: FakeDiscord) -> None:
    """A member with nothing waiting gets a sentence."""
    answer = private_answer(fake_discord, fake_discord.send_slash_command("queue"))
    assert answer.content == "You have no jobs waiting or rendering."


def test_models_lists_checkpoints_and_loras(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """/models shows enabled checkpoints with their base and LoRAs with their trigger words, privately."""
    with session_scope(registered.database_url) as session:
        for name, enabled in (("ink", True), ("secret", False)):
            session.add(
                ModelFile(kind=ModelKind.LORA, name=name, file_path=f"loras/{name}.safetensors", sha256="0" * 64,
                          autov2="0" * 10, base_arch="sd1", trigger_words=["inkstyle"], enabled=enabled)
            )  # fmt: skip
        session.commit()
    answer = private_answer(fake_discord, fake_discord.send_slash_command("models"))
    embeds = {e["title"]: e["description"] for e in answer.json["embeds"]}
    assert embeds["Checkpoints"].startswith("**tiny-test** — sd1")
    assert embeds["LoRAs"] == "**ink** — sd1 · `<lora:ink:1>` · triggers: inkstyle"


def test_reroll_exact_queues_the_stored_recipe(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """/reroll-exact with a gallery link queues the image's recipe and seed, marked as its exact re-render."""
    image_id, _ = delivered_image(fake_discord, registered, prompt="a red circle", seed=42, steps=4)
    sent = fake_discord.send_slash_command("reroll-exact", {"image": f"{registered.web.public_url}/images/{image_id}"})
    edit = fake_discord.wait_for(
        lambda r: r.method == "PATCH" and r.path == sent.original_path and "queued" in r.content
    )
    assert f"re-rendering image #{image_id} exactly" in edit.content
    child = all_jobs(registered)[-1]
    assert (child.exact_of_image_id, child.parent_image_id, child.recipe["seed"]) == (image_id, image_id, 42)


def test_reroll_exact_result_says_whether_it_matched(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """The delivered re-render says the pixels matched when the worker found them equal."""
    image_id, _ = delivered_image(fake_discord, registered, prompt="a red circle", seed=42, steps=4)
    sent = fake_discord.send_slash_command("reroll-exact", {"image": str(image_id)})
    queued_edit(fake_discord, sent)
    child = all_jobs(registered)[-1]
    finish_job(registered, child.id, exact_match=True)
    (new_image,) = image_ids(registered, child.id)
    message = result_message(fake_discord, new_image)
    assert f"✅ exact: the pixels are identical to image #{image_id}" in message["content"]


def test_reroll_exact_of_a_missing_image_explains(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """An id that is no image gets a private sentence, and no job."""
    sent = fake_discord.send_slash_command("reroll-exact", {"image": "999"})
    answer = private_answer(fake_discord, sent)
    assert answer.flags & EPHEMERAL and "image 999 does not exist" in answer.content
    assert all_jobs(registered) == []
