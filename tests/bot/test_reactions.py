"""❤️ reactions on result messages as gallery votes, through the fake gateway against the real bot."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import Job, User, Vote
from atelier.settings import Settings
from tests.helpers.fake_discord import FakeDiscord
from tests.helpers.processes import Process

from .actions import delivered_image

BOB = 300_000_000_000_000_002


def votes_of(settings: Settings) -> list[tuple[int | None, int]]:
    """(voter's Discord id, image id) of every vote."""
    with session_scope(settings.database_url) as session:
        query = select(User.discord_id, Vote.image_id).join(User, User.id == Vote.user_id).order_by(Vote.id)
        return [(discord_id, image_id) for discord_id, image_id in session.execute(query).all()]


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not hold in time")
        time.sleep(0.1)


def result(fake: FakeDiscord, settings: Settings) -> tuple[int, str]:
    """/draw, deliver, and wait until the bot has recorded which message carries the result (it maps
    reactions through that record): (image id, message id)."""
    image_id, message = delivered_image(fake, settings, prompt="a red circle")
    message_id = str(message["id"])

    def recorded() -> bool:
        with session_scope(settings.database_url) as session:
            return session.scalar(select(Job.discord_message_id)) == int(message_id)

    eventually(recorded)
    return image_id, message_id


def test_heart_reaction_votes_for_the_image(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Another member's ❤️ on a result message is their vote for its image (the bot asked for the
    reactions intent, so the gateway sends the event)."""
    image_id, message_id = result(fake_discord, registered)
    assert fake_discord.react(message_id, user=fake_discord.member(BOB, "bob"))
    eventually(lambda: votes_of(registered) == [(BOB, image_id)])


def test_removing_the_heart_removes_the_vote(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Taking the ❤️ back takes the vote back."""
    image_id, message_id = result(fake_discord, registered)
    bob = fake_discord.member(BOB, "bob")
    fake_discord.react(message_id, user=bob)
    eventually(lambda: votes_of(registered) == [(BOB, image_id)])
    fake_discord.react(message_id, user=bob, remove=True)
    eventually(lambda: votes_of(registered) == [])


def test_a_second_heart_event_is_still_one_vote(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A replayed add (gateway resume) leaves one vote per member per image."""
    image_id, message_id = result(fake_discord, registered)
    bob = fake_discord.member(BOB, "bob")
    fake_discord.react(message_id, user=bob)
    fake_discord.react(message_id, user=bob)
    bot.wait_for_log("vote added by", timeout=15)
    time.sleep(1.0)
    assert votes_of(registered) == [(BOB, image_id)]


def test_own_heart_is_not_a_vote(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The requester's ❤️ on their own result counts for nothing, as in the gallery."""
    _, message_id = result(fake_discord, registered)
    fake_discord.react(message_id)
    bot.wait_for_log("not counted: that image is yours", timeout=15)
    assert votes_of(registered) == []


def test_other_emoji_are_not_votes(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Only the red heart votes: a 👍 is just a reaction."""
    image_id, message_id = result(fake_discord, registered)
    bob = fake_discord.member(BOB, "bob")
    fake_discord.react(message_id, "👍", user=bob)
    fake_discord.react(message_id, user=bob)  # the heart, after it, tells when both were handled
    eventually(lambda: votes_of(registered) == [(BOB, image_id)])
    time.sleep(0.5)
    assert votes_of(registered) == [(BOB, image_id)]


def test_heart_on_another_message_is_ignored(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A ❤️ on a message that is no result of ours records nothing and makes no user."""
    posted = fake_discord.post_member_message("hello", user=fake_discord.member(BOB, "bob"))
    fake_discord.react(posted["id"], user=fake_discord.member(300_000_000_000_000_003, "cy"))
    time.sleep(1.5)
    assert votes_of(registered) == []
    with session_scope(registered.database_url) as session:
        assert session.scalars(select(User)).all() == []
