"""The "Show parameters" and "Remix with Atelier" message menus, on members' PNGs and on our results."""

from __future__ import annotations

import io

from PIL import Image

from atelier.settings import Settings
from atelier.storage import png_bytes
from tests.helpers.fake_discord import EPHEMERAL, FakeDiscord
from tests.helpers.processes import Process

from .actions import all_jobs, delivered_image, modal, private_answer

OTHER = 300_000_000_000_000_002
INFOTEXT = (
    "a lighthouse at dusk\nNegative prompt: fog\n"
    "Steps: 5, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6, Seed: 1234, Size: 64x64, Model: sd_xl_base"
)


def posted_png(fake: FakeDiscord, infotext: str | None) -> dict[str, object]:
    """A member's message with a PNG attachment (with the infotext chunk when given)."""
    image = Image.new("RGB", (64, 64), (10, 20, 30))
    if infotext is None:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
    else:
        data = png_bytes(image, infotext)
    return fake.post_member_message("look", [("art.png", data, "image/png")], user=fake.member(OTHER, "bob"))


def test_show_parameters_reads_a_members_png(bot: Process, fake_discord: FakeDiscord) -> None:
    """On a member's PNG the menu answers privately with the infotext of its "parameters" chunk."""
    message = posted_png(fake_discord, INFOTEXT)
    sent = fake_discord.send_message_command("Show parameters", message["id"])
    answer = private_answer(fake_discord, sent)
    assert answer.content == f"```\n{INFOTEXT}\n```"


def test_show_parameters_of_our_result_comes_from_the_gallery(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """On one of our result messages the infotext is the gallery record's."""
    _, message = delivered_image(fake_discord, registered, prompt="a red circle", seed=42, steps=4)
    answer = private_answer(fake_discord, fake_discord.send_message_command("Show parameters", message["id"]))
    assert answer.content.startswith("```\na red circle\n") and "Seed: 42" in answer.content


def test_show_parameters_without_any_says_so(bot: Process, fake_discord: FakeDiscord) -> None:
    """A PNG with no parameters gets a private sentence, not an error."""
    message = posted_png(fake_discord, None)
    answer = private_answer(fake_discord, fake_discord.send_message_command("Show parameters", message["id"]))
    assert answer.flags & EPHEMERAL and "no PNG attachment with A1111 parameters" in answer.content


def test_remix_with_atelier_prefills_from_the_infotext(bot: Process, fake_discord: FakeDiscord) -> None:
    """On a member's PNG the menu opens the form prefilled from its parameters, within the deadline."""
    message = posted_png(fake_discord, INFOTEXT)
    sent = fake_discord.send_message_command("Remix with Atelier", message["id"])
    custom_id, values = modal(fake_discord, sent)
    assert custom_id.startswith("atelier:remix:x")
    assert values == {"prompt": "a lighthouse at dusk", "negative": "fog", "seed": "1234", "steps": "5", "cfg": "6.0"}
    assert fake_discord.callback_of(sent).at - sent.at < 3.0


def test_remix_of_a_members_png_keeps_its_recipe(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The submitted form renders the infotext's sampler and size with the member's changes; the
    unknown model is replaced by the default, and the reply says so."""
    message = posted_png(fake_discord, INFOTEXT)
    custom_id, values = modal(fake_discord, fake_discord.send_message_command("Remix with Atelier", message["id"]))
    sent = fake_discord.submit_modal(custom_id, {**values, "steps": "3"})
    edit = fake_discord.wait_for(
        lambda r: r.method == "PATCH" and r.path == sent.original_path and "queued" in r.content
    )
    assert "sd_xl_base" in edit.content and "default model" in edit.content
    (job,) = all_jobs(registered)
    recipe = job.recipe
    assert job.parent_image_id is None and recipe["checkpoint"] == "tiny-test"
    assert (recipe["prompt"], recipe["sampler"], recipe["schedule_type"], recipe["steps"], recipe["seed"]) == (
        "a lighthouse at dusk", "DPM++ 2M", "Karras", 3, 1234
    )  # fmt: skip


def test_remix_with_atelier_on_our_result_is_a_child(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """On one of our results the form is the gallery image's, so the remix records its parent."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle", seed=42)
    custom_id, _ = modal(fake_discord, fake_discord.send_message_command("Remix with Atelier", message["id"]))
    assert custom_id == f"atelier:remix:{image_id}"
