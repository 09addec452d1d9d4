"""/draw against the real bot process and a fake Discord: defer, submit, answer."""

from __future__ import annotations

import re

from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import JobSource, JobState, User
from atelier.settings import Settings
from tests.helpers.fake_discord import EPHEMERAL, FakeDiscord
from tests.helpers.processes import Process

from .actions import StartBot, all_jobs, draw


def test_draw_defers_before_anything_else(bot: Process, fake_discord: FakeDiscord) -> None:
    """The first thing the bot sends for /draw is a thinking defer, well within 3 seconds."""
    sent = draw(fake_discord, prompt="a red circle")
    mine = [r for r in fake_discord.requests() if sent.token in r.path]
    assert mine[0].path == sent.callback_path
    assert mine[0].json["type"] == 5
    assert mine[0].at - sent.at < 3.0


def test_draw_replies_with_queue_position(bot: Process, fake_discord: FakeDiscord) -> None:
    """The deferred reply is edited to the job's queue position and ETA."""
    sent = draw(fake_discord, prompt="a red circle")
    edit = fake_discord.requests("PATCH", sent.original_path)[-1]
    assert re.fullmatch(r"queued — #1, about \d+ s", edit.content), edit.content


def test_draw_creates_discord_job_in_the_channel(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """/draw makes one queued job with source discord and the interaction's channel id."""
    sent = draw(fake_discord, prompt="a red circle")
    (job,) = all_jobs(registered)
    assert job.source == JobSource.DISCORD
    assert job.discord_channel_id == sent.channel_id
    assert job.state == JobState.QUEUED
    assert job.recipe["prompt"] == "a red circle"


def test_draw_options_reach_the_recipe(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """negative, seed and steps end up in the job's recipe under the recipe's names."""
    draw(fake_discord, prompt="a cat", negative="blurry", seed=42, steps=4)
    (job,) = all_jobs(registered)
    assert (job.recipe["negative_prompt"], job.recipe["seed"], job.recipe["steps"]) == ("blurry", 42, 4)


def test_draw_owner_row_is_made_once(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The Discord user gets one users row on first use, and both jobs belong to it."""
    draw(fake_discord, prompt="a cat")
    sent = draw(fake_discord, prompt="a dog")
    with session_scope(registered.database_url) as session:
        users = list(session.scalars(select(User)))
    assert [(u.discord_id, u.name) for u in users] == [(sent.user_id, "ada")]
    assert {job.owner_id for job in all_jobs(registered)} == {users[0].id}


def test_draw_with_zero_steps_names_the_field(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """steps 0 gets an ephemeral message naming `steps`, and no job is created."""
    sent = fake_discord.send_slash_command("draw", {"prompt": "a cat", "steps": 0})
    answer = fake_discord.wait_for(lambda r: r.method == "POST" and r.path == sent.webhook_path)
    assert answer.flags & EPHEMERAL
    assert "steps" in answer.content and "between 1 and 150" in answer.content
    assert "Traceback" not in answer.content
    assert all_jobs(registered) == []


def test_draw_with_blank_prompt_names_the_field(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A prompt of spaces gets an ephemeral message naming `prompt`, and no job is created."""
    sent = fake_discord.send_slash_command("draw", {"prompt": "   "})
    answer = fake_discord.wait_for(lambda r: r.method == "POST" and r.path == sent.webhook_path)
    assert answer.flags & EPHEMERAL
    assert "prompt" in answer.content and "empty" in answer.content
    assert all_jobs(registered) == []


def test_bad_input_removes_the_public_placeholder(bot: Process, fake_discord: FakeDiscord) -> None:
    """The public "thinking…" reply is deleted so only the author sees what was wrong."""
    sent = fake_discord.send_slash_command("draw", {"prompt": "a cat", "steps": 0})
    fake_discord.wait_for(lambda r: r.method == "POST" and r.path == sent.webhook_path)
    assert fake_discord.requests("DELETE", sent.original_path)


def test_commands_are_synced_to_the_configured_guild(bot: Process, fake_discord: FakeDiscord) -> None:
    """At start the bot syncs /draw with its options, the other commands and the two message menus."""
    commands = {c["name"]: c for c in fake_discord.commands(fake_discord.guild_id)}
    assert set(commands) == {
        "draw", "queue", "models", "reroll-exact", "remix", "mod", "Show parameters", "Remix with Atelier"
    }  # fmt: skip
    assert commands["Show parameters"]["type"] == 3 and commands["Remix with Atelier"]["type"] == 3
    options = {o["name"]: o for o in commands["draw"]["options"]}
    assert list(options) == ["prompt", "negative", "model", "sampler", "size", "steps", "cfg", "seed", "count"]
    assert options["prompt"]["required"] is True
    assert (options["steps"]["min_value"], options["steps"]["max_value"]) == (1, 150)
    assert (options["count"]["min_value"], options["count"]["max_value"]) == (1, 4)
    assert options["model"]["autocomplete"] is True and options["size"]["autocomplete"] is True
    assert "Euler a" in [choice["value"] for choice in options["sampler"]["choices"]]


def test_without_a_guild_commands_sync_globally(
    start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """With no ATELIER_DISCORD_GUILD_ID, /draw is synced as a global command and answers there."""
    start_bot(ATELIER_DISCORD_GUILD_ID="")
    assert "draw" in [c["name"] for c in fake_discord.commands()]
    assert fake_discord.commands(fake_discord.guild_id) == []
    draw(fake_discord, prompt="a red circle")
    assert len(all_jobs(registered)) == 1
