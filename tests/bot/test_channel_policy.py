"""Per-channel policy against the real bot: /mod channel, every door's check, autocomplete, spoilers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from atelier.db import session_scope
from atelier.schema import AuditEntry, Image, ModelFile, ModelKind
from atelier.settings import Settings
from tests.helpers.fake_discord import FakeDiscord, SentInteraction
from tests.helpers.processes import Process

from .actions import (
    all_jobs,
    choices,
    delivered_image,
    finish_job,
    image_ids,
    modal,
    private_answer,
    result_message,
)
from .test_mod import mod_answer

OFF_LIST = "❌ 'tiny-test' is not allowed in this channel; the models allowed here are: other"


def add_checkpoint(settings: Settings, name: str) -> None:
    """A second enabled checkpoint (its file is never loaded: these jobs are not rendered)."""
    with session_scope(settings.database_url) as session:
        session.add(
            ModelFile(kind=ModelKind.CHECKPOINT, name=name, file_path=f"checkpoints/{name}.safetensors",
                      sha256="1" * 64, autov2="1" * 10, base_arch="sd1", enabled=True)
        )  # fmt: skip
        session.commit()


def only_other_here(fake: FakeDiscord, settings: Settings) -> None:
    """A moderator limits the studio channel to the checkpoint "other"."""
    add_checkpoint(settings, "other")
    assert mod_answer(fake, "channel allow", {"model": "other"}).startswith("✅")


def mark_nsfw(settings: Settings, name: str = "tiny-test") -> None:
    with session_scope(settings.database_url) as session:
        session.execute(update(ModelFile).where(ModelFile.name == name).values(nsfw_allowed=True))
        session.commit()


def draw_in(fake: FakeDiscord, channel_id: int, **options: Any) -> SentInteraction:
    return fake.send_slash_command("draw", {"prompt": "a red circle", **options}, channel_id=channel_id)


def test_allow_show_and_audit(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """/mod channel allow lists a checkpoint for this channel, show says so, and the change is audited."""
    only_other_here(fake_discord, registered)
    shown = mod_answer(fake_discord, "channel show")
    assert shown == f"<#{fake_discord.channel_id}> — models: `other`; spoilers for NSFW models' images only"
    with session_scope(registered.database_url) as session:
        entries = session.scalars(select(AuditEntry)).all()
        assert [(e.action, e.target, e.details) for e in entries] == [
            ("channel.allow", f"channel {fake_discord.channel_id}", "other")
        ]


def test_draw_with_a_model_off_the_list_is_refused(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """/draw with the default checkpoint, which the channel does not list, gets the sentence naming the
    allowed models, and no job."""
    only_other_here(fake_discord, registered)
    answer = private_answer(fake_discord, draw_in(fake_discord, fake_discord.channel_id))
    assert answer.content == OFF_LIST
    assert all_jobs(registered) == []


def test_draw_with_a_listed_model_is_queued(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The checkpoint on the list is queued as usual."""
    only_other_here(fake_discord, registered)
    sent = draw_in(fake_discord, fake_discord.channel_id, model="other")
    fake_discord.wait_for(lambda r: r.method == "PATCH" and r.path == sent.original_path, what="queued reply")
    assert [job.recipe["checkpoint"] for job in all_jobs(registered)] == ["other"]


def test_clear_allows_every_checkpoint_again(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """After /mod channel clear the default checkpoint draws again."""
    only_other_here(fake_discord, registered)
    assert "every enabled checkpoint" in mod_answer(fake_discord, "channel clear")
    sent = draw_in(fake_discord, fake_discord.channel_id)
    fake_discord.wait_for(lambda r: r.method == "PATCH" and r.path == sent.original_path, what="queued reply")
    assert len(all_jobs(registered)) == 1


def test_reroll_button_checks_the_channel(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A result made before the list was set cannot be rerolled with a checkpoint the channel no longer allows."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    only_other_here(fake_discord, registered)
    sent = fake_discord.press_button(message["id"], f"atelier:reroll:{image_id}")
    assert private_answer(fake_discord, sent).content == OFF_LIST
    assert len(all_jobs(registered)) == 1


def test_remix_form_checks_the_channel(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The remix form's submit is refused the same way."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    only_other_here(fake_discord, registered)
    custom_id, values = modal(fake_discord, fake_discord.press_button(message["id"], f"atelier:remix:{image_id}"))
    sent = fake_discord.submit_modal(custom_id, {**values, "prompt": "a blue circle"})
    assert private_answer(fake_discord, sent).content == OFF_LIST
    assert len(all_jobs(registered)) == 1


def test_reroll_exact_checks_the_channel(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """/reroll-exact is refused the same way."""
    image_id, _ = delivered_image(fake_discord, registered, prompt="a red circle")
    only_other_here(fake_discord, registered)
    sent = fake_discord.send_slash_command("reroll-exact", {"image": str(image_id)})
    assert private_answer(fake_discord, sent).content == OFF_LIST


def test_autocomplete_offers_only_the_channels_models(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """In a channel with a list, /draw's model suggestions are the listed checkpoints only."""
    only_other_here(fake_discord, registered)
    sent = fake_discord.autocomplete("draw", {"prompt": "x", "model": ""}, "model")
    assert [c["value"] for c in choices(fake_discord, sent)] == ["other"]


def test_nsfw_model_is_refused_outside_age_restricted_channels(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """A checkpoint that may render NSFW is refused in the ordinary channel, with the reason."""
    mark_nsfw(registered)
    answer = private_answer(fake_discord, draw_in(fake_discord, fake_discord.channel_id))
    assert "only used in age-restricted channels" in answer.content
    assert all_jobs(registered) == []


def test_nsfw_model_draws_in_an_age_restricted_channel_without_spoilers(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """In the age-restricted channel the same checkpoint draws; its images are marked NSFW for the
    gallery and posted there without a spoiler."""
    mark_nsfw(registered)
    sent = draw_in(fake_discord, fake_discord.nsfw_channel_id)
    fake_discord.wait_for(lambda r: r.method == "PATCH" and r.path == sent.original_path, what="queued reply")
    job_id = all_jobs(registered)[-1].id
    finish_job(registered, job_id)
    (image_id,) = image_ids(registered, job_id)
    message = result_message(fake_discord, image_id)
    (attachment,) = message["attachments"]
    assert attachment["filename"].startswith(f"atelier_{job_id}_0_")  # no SPOILER_ prefix
    with session_scope(registered.database_url) as session:
        assert session.scalar(select(Image.nsfw).where(Image.id == image_id)) is True


def test_nsfw_autocomplete_only_in_age_restricted_channels(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """An NSFW checkpoint is suggested in the age-restricted channel and not in the ordinary one."""
    add_checkpoint(registered, "other")
    mark_nsfw(registered)
    here = fake_discord.autocomplete("draw", {"prompt": "x", "model": ""}, "model")
    restricted = fake_discord.nsfw_channel_id
    there = fake_discord.autocomplete("draw", {"prompt": "x", "model": ""}, "model", channel_id=restricted)
    assert [c["value"] for c in choices(fake_discord, here)] == ["other"]
    assert sorted(c["value"] for c in choices(fake_discord, there)) == ["other", "tiny-test"]


def test_spoilers_on_posts_every_result_behind_a_spoiler(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """With /mod channel spoilers on, a safe model's result is posted as a spoiler file."""
    assert "every result behind a spoiler" in mod_answer(fake_discord, "channel spoilers", {"mode": "on"})
    _, message = delivered_image(fake_discord, registered, prompt="a red circle")
    assert all(a["filename"].startswith("SPOILER_atelier_") for a in message["attachments"])
    assert message["attachments"]


def test_results_are_not_spoilers_by_default(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Without spoilers on, a safe model's result is posted plainly."""
    _, message = delivered_image(fake_discord, registered, prompt="a red circle")
    assert [a["filename"].startswith("atelier_") for a in message["attachments"]] == [True]
