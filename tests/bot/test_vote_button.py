"""The ❤️ button on results: a member's gallery vote, toggled, answered privately with the tally."""

from __future__ import annotations

from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import User, Vote
from atelier.settings import Settings
from tests.helpers.fake_discord import EPHEMERAL, FakeDiscord
from tests.helpers.processes import Process

from .actions import StartBot, answered, delivered_image, private_answer
from .test_reactions import eventually, result

BOB = 300_000_000_000_000_002


def votes_of(settings: Settings) -> list[tuple[int | None, int]]:
    """(voter's Discord id, image id) of every vote."""
    with session_scope(settings.database_url) as session:
        query = select(User.discord_id, Vote.image_id).join(User, User.id == Vote.user_id).order_by(Vote.id)
        return [(discord_id, image_id) for discord_id, image_id in session.execute(query).all()]


def press_vote(fake: FakeDiscord, message_id: str, image_id: int, user_id: int = BOB) -> str:
    """Press ❤️ as another member; returns the private answer."""
    sent = fake.press_button(message_id, f"atelier:vote:{image_id}", user=fake.member(user_id, "bob"))
    assert answered(fake, sent).flags & EPHEMERAL
    return private_answer(fake, sent).content


def test_pressing_votes_and_pressing_again_takes_it_back(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """The first press records Bob's vote and says the tally; the second removes it."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    first = press_vote(fake_discord, message["id"], image_id)
    assert first.startswith(f"❤️ You voted for image #{image_id}; it has 1 vote.")
    assert votes_of(registered) == [(BOB, image_id)]
    second = press_vote(fake_discord, message["id"], image_id)
    assert second == f"🤍 You took back your vote for image #{image_id}; it has 0 votes."
    assert votes_of(registered) == []


def test_own_image_gets_the_services_refusal(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The member who drew the image is told votes are for others' images, and nothing is recorded."""
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    sent = fake_discord.press_button(message["id"], f"atelier:vote:{image_id}")
    answer = private_answer(fake_discord, sent).content
    assert answer == "❌ that image is yours; votes are for other members' images"
    assert votes_of(registered) == []


def test_button_and_reaction_share_one_vote(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A ❤️ reaction and the ❤️ button are the same vote: after reacting, the button takes it back."""
    image_id, message_id = result(fake_discord, registered)
    assert fake_discord.react(message_id, user=fake_discord.member(BOB, "bob"))
    eventually(lambda: votes_of(registered) == [(BOB, image_id)])
    answer = press_vote(fake_discord, message_id, image_id)
    assert answer.startswith("🤍 You took back your vote") and votes_of(registered) == []


def test_vote_works_after_a_restart(start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A ❤️ on a result posted by an earlier run of the bot still votes."""
    first = start_bot()
    image_id, message = delivered_image(fake_discord, registered, prompt="a red circle")
    first.stop()
    start_bot()
    assert press_vote(fake_discord, message["id"], image_id).startswith("❤️ You voted")
    assert votes_of(registered) == [(BOB, image_id)]
