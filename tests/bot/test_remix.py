"""/remix and the ✏️ button: a prefilled form whose submit queues a child of the image."""

from __future__ import annotations

from atelier.settings import Settings
from tests.helpers.fake_discord import EPHEMERAL, FakeDiscord, SentInteraction
from tests.helpers.processes import Process

from .actions import StartBot, all_jobs, delivered_image, modal, private_answer

FORM_FIELDS = ["prompt", "negative", "seed", "steps", "cfg"]


def queued(fake: FakeDiscord, sent: SentInteraction) -> str:
    edit = fake.wait_for(lambda r: r.method == "PATCH" and r.path == sent.original_path and "queued" in r.content)
    return edit.content


def test_remix_opens_a_prefilled_form(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """/remix <id> answers with a form holding the image's prompt, negative, seed, steps and CFG."""
    image_id, _ = delivered_image(fake_discord, registered, prompt="a red circle", negative="blur", seed=42, steps=4)
    sent = fake_discord.send_slash_command("remix", {"image": str(image_id)})
    custom_id, values = modal(fake_discord, sent)
    assert custom_id == f"atelier:remix:{image_id}"
    assert list(values) == FORM_FIELDS
    assert values == {"prompt": "a red circle", "negative": "blur", "seed": "42", "steps": "4", "cfg": "7.0"}
    assert fake_discord.callback_of(sent).at - sent.at < 3.0


def test_submitted_form_queues_a_child(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The submitted form queues the image's recipe with the changes, its parent the image (lineage)."""
    image_id, _ = delivered_image(fake_discord, registered, prompt="a red circle", seed=42, steps=4)
    form = {"prompt": "a blue circle", "negative": "", "seed": "42", "steps": "6", "cfg": "5"}
    sent = fake_discord.submit_modal(f"atelier:remix:{image_id}", form)
    assert queued(fake_discord, sent).startswith("queued — #1")
    child = all_jobs(registered)[-1]
    assert child.parent_image_id == image_id
    recipe = child.recipe
    assert (recipe["prompt"], recipe["seed"], recipe["steps"], recipe["cfg_scale"]) == ("a blue circle", 42, 6, 5.0)


def test_empty_seed_remixes_with_a_new_seed(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Clearing the seed in the form renders with another seed."""
    image_id, _ = delivered_image(fake_discord, registered, prompt="a red circle", seed=42, steps=4)
    form = {"prompt": "a red circle", "negative": "", "seed": "", "steps": "4", "cfg": "7"}
    queued(fake_discord, fake_discord.submit_modal(f"atelier:remix:{image_id}", form))
    assert all_jobs(registered)[-1].recipe["seed"] != 42


def test_bad_form_value_is_answered_privately(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Steps that are not a number get a private sentence naming steps, and no job."""
    image_id, _ = delivered_image(fake_discord, registered, prompt="a red circle")
    form = {"prompt": "a cat", "negative": "", "seed": "", "steps": "many", "cfg": "7"}
    answer = private_answer(fake_discord, fake_discord.submit_modal(f"atelier:remix:{image_id}", form))
    assert answer.flags & EPHEMERAL and "**steps**" in answer.content and "whole number" in answer.content
    assert len(all_jobs(registered)) == 1


def test_remix_button_opens_the_form(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """✏️ on a result answers with the form for that image, within the deadline."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle", seed=42)
    sent = fake_discord.press_button(message["id"], f"atelier:remix:{image_id}")
    custom_id, values = modal(fake_discord, sent)
    assert custom_id == f"atelier:remix:{image_id}" and values["prompt"] == "a red circle"


def test_form_opened_before_a_restart_submits_after_it(
    start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """A form opened under an earlier run of the bot still queues its remix when submitted."""
    first = start_bot()
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle", seed=42)
    custom_id, values = modal(fake_discord, fake_discord.press_button(message["id"], f"atelier:remix:{image_id}"))
    first.stop()
    start_bot()
    queued(fake_discord, fake_discord.submit_modal(custom_id, {**values, "prompt": "a green circle"}))
    child = all_jobs(registered)[-1]
    assert (child.parent_image_id, child.recipe["prompt"]) == (image_id, "a green circle")
