"""The buttons on result messages, pressed as members through the fake Discord against the real bot."""

from __future__ import annotations

from sqlalchemy import select, update

from atelier.db import session_scope
from atelier.schema import Image, Job, JobSource, Role, User
from atelier.services.derive import UPSCALE_DENOISE, VARIATION_DENOISE
from atelier.settings import Settings
from bot import messages
from tests.helpers.fake_discord import DEFERRED_CHANNEL_MESSAGE, EPHEMERAL, FakeDiscord
from tests.helpers.processes import Process

from .actions import (
    StartBot,
    all_jobs,
    answered,
    custom_ids,
    delivered_image,
    links,
    private_answer,
)

OTHER = 300_000_000_000_000_002


def queued_reply(fake: FakeDiscord, path: str) -> str:
    edit = fake.wait_for(lambda r: r.method == "PATCH" and r.path == path and "queued" in r.content)
    return edit.content


def test_result_carries_every_button(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A one-image result has reroll, variations, upscale, remix, vote, parameters, delete and a gallery link."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    actions = [custom_id.split(":")[1] for custom_id in custom_ids(message)]
    assert actions == ["reroll", "vary", "upscale", "remix", "vote", "info", "delete"]
    assert links(message) == [f"{registered.web.public_url}/images/{image_id}"]


def test_reroll_queues_a_child_with_a_new_seed(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """🔁 defers at once, then queues the same recipe with another seed, its parent the image."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle", seed=42, steps=4)
    sent = fake_discord.press_button(message["id"], f"atelier:reroll:{image_id}")
    callback = answered(fake_discord, sent)
    assert callback.json["type"] == DEFERRED_CHANNEL_MESSAGE and callback.at - sent.at < 3.0
    assert queued_reply(fake_discord, sent.original_path).startswith("queued — #1")
    parent, child = all_jobs(registered)
    assert child.parent_image_id == image_id and child.source == JobSource.DISCORD
    assert child.discord_channel_id == sent.channel_id
    assert child.recipe["prompt"] == "a red circle" and child.recipe["steps"] == 4
    assert child.recipe["seed"] != parent.recipe["seed"] or child.recipe["seed"] != 42


def test_reroll_works_after_a_restart(start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A result posted by an earlier run of the bot, whose token is long dead, still rerolls."""
    first = start_bot()
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    first.stop()
    start_bot()
    sent = fake_discord.press_button(message["id"], f"atelier:reroll:{image_id}")
    assert answered(fake_discord, sent).at - sent.at < 3.0
    queued_reply(fake_discord, sent.original_path)
    assert [job.parent_image_id for job in all_jobs(registered)] == [None, image_id]


def test_variation_is_img2img_from_the_image(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """🎲 queues img2img from the image's stored file at denoise 0.4, at the image's size, one image."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    sent = fake_discord.press_button(message["id"], f"atelier:vary:{image_id}")
    queued_reply(fake_discord, sent.original_path)
    with session_scope(registered.database_url) as session:
        image = session.get(Image, image_id)
        assert image is not None
        source = (image.file_path, image.width, image.height)
    child = all_jobs(registered)[-1]
    recipe = child.recipe
    assert child.parent_image_id == image_id
    assert (recipe["init_image"], recipe["width"], recipe["height"]) == source
    assert (recipe["denoising_strength"], recipe["count"]) == (VARIATION_DENOISE, 1)


def test_upscale_doubles_the_size(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """⬆️ queues img2img at twice the image's size with a light denoise, and says the new size."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    sent = fake_discord.press_button(message["id"], f"atelier:upscale:{image_id}")
    reply = queued_reply(fake_discord, sent.original_path)
    child = all_jobs(registered)[-1]
    assert (child.recipe["width"], child.recipe["height"]) == (128, 128)  # finish_job stores 64x64
    assert child.recipe["denoising_strength"] == UPSCALE_DENOISE and child.parent_image_id == image_id
    assert "upscale to 128x128" in reply


def test_upscale_at_the_size_limit_is_refused(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """An image already at the pixel limit gets a private sentence, and no job."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    with session_scope(registered.database_url) as session:
        session.execute(update(Image).where(Image.id == image_id).values(width=2048, height=1024))
        session.commit()
    sent = fake_discord.press_button(message["id"], f"atelier:upscale:{image_id}")
    answer = private_answer(fake_discord, sent)
    assert "upscale" in answer.content and "size limit" in answer.content
    assert "Traceback" not in answer.content
    assert len(all_jobs(registered)) == 1


def test_parameters_are_shown_privately(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The parameters button answers only the presser, with the image's infotext in a code block."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle", seed=42, steps=4)
    sent = fake_discord.press_button(message["id"], f"atelier:info:{image_id}")
    assert answered(fake_discord, sent).flags & EPHEMERAL
    answer = private_answer(fake_discord, sent)
    assert answer.content.startswith("```\na red circle\n") and "Seed: 42" in answer.content


def test_delete_by_the_requester_hides_the_image(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """🗑️ from the member who drew it hides the image in the gallery and deletes the message."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    sent = fake_discord.press_button(message["id"], f"atelier:delete:{image_id}")
    fake_discord.wait_for(lambda r: r.method == "DELETE" and r.path == sent.original_path, what="message deletion")
    assert not fake_discord.has_message(message["id"])
    assert hidden(registered, image_id)


def test_delete_by_another_member_is_refused(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """🗑️ from someone else gets a private refusal; the image and its message stay."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    other = fake_discord.member(OTHER, "bob")
    sent = fake_discord.press_button(message["id"], f"atelier:delete:{image_id}", user=other)
    answer = private_answer(fake_discord, sent)
    assert "moderator" in answer.content and "Traceback" not in answer.content
    assert fake_discord.has_message(message["id"]) and not hidden(registered, image_id)
    assert not fake_discord.requests("DELETE", sent.original_path)


def test_delete_by_a_moderator_is_allowed(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A member whose role is moderator may delete another member's picture."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    with session_scope(registered.database_url) as session:
        session.add(User(discord_id=OTHER, name="mod", role=Role.MODERATOR))
        session.commit()
    moderator = fake_discord.member(OTHER, "mod")
    sent = fake_discord.press_button(message["id"], f"atelier:delete:{image_id}", user=moderator)
    fake_discord.wait_for(lambda r: r.method == "DELETE" and r.path == sent.original_path, what="message deletion")
    assert hidden(registered, image_id)


def test_buttons_of_a_deleted_image_explain(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Rerolling an image that was taken out of the gallery says so privately."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    with session_scope(registered.database_url) as session:
        session.execute(update(Image).where(Image.id == image_id).values(hidden=True))
        session.commit()
    sent = fake_discord.press_button(message["id"], f"atelier:reroll:{image_id}")
    answer = private_answer(fake_discord, sent)
    assert "no longer in the gallery" in answer.content
    assert fake_discord.requests("DELETE", sent.original_path)  # the public "thinking…" is gone


def hidden(settings: Settings, image_id: int) -> bool:
    with session_scope(settings.database_url) as session:
        return bool(session.scalar(select(Image.hidden).where(Image.id == image_id)))


def test_unexpected_failure_gets_a_sentence_not_a_traceback(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """A press that fails for an unforeseen reason (a corrupt recipe row) gets the generic apology
    privately, and the traceback goes to the bot's log."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    with session_scope(registered.database_url) as session:
        session.execute(update(Job).values(recipe=["not", "a", "recipe"]))
        session.commit()
    sent = fake_discord.press_button(message["id"], f"atelier:reroll:{image_id}")
    answer = private_answer(fake_discord, sent)
    assert answer.content == messages.UNEXPECTED
    bot.wait_for_log(f"button reroll:{image_id} failed", timeout=10)
    assert "Traceback" in bot.log()
