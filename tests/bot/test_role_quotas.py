"""Per-Discord-role quotas against the real bot: /mod quota, members' roles recorded, /draw admitted or refused."""

from __future__ import annotations

from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import AuditEntry, RoleQuota, User
from atelier.settings import Settings
from tests.helpers.fake_discord import MEMBER_PERMISSIONS, SUPPORTER_ROLE_ID, FakeDiscord, SentInteraction

from .actions import StartBot, all_jobs, private_answer
from .test_mod import ROLE, mod_answer

BOB = 300_000_000_000_000_002
TINY_DEFAULT = '{"member": 0.001}'
"""A studio default so small that any render is over it: only a role's quota lets a member draw."""


def quota(minutes: float, max_queued: int = 0) -> list[dict[str, object]]:
    return [
        ROLE,
        {"name": "gpu_minutes_per_day", "type": 10, "value": minutes},
        {"name": "max_queued", "type": 4, "value": max_queued},
    ]


def draw_as_supporter(fake: FakeDiscord) -> SentInteraction:
    """/draw as Bob, a plain member holding the Supporters role."""
    bob = fake.member(BOB, "bob")
    options = {"prompt": "a red circle", "steps": 4}
    return fake.send_slash_command("draw", options, user=bob, roles=[SUPPORTER_ROLE_ID], permissions=MEMBER_PERMISSIONS)


def queued(fake: FakeDiscord, sent: SentInteraction) -> str:
    return fake.wait_for(lambda r: r.method == "PATCH" and r.path == sent.original_path, what="queued reply").content


def test_small_role_quota_refuses_with_the_sentence(
    start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """A member whose role gives a tiny daily quota is refused, told when it resets, and nothing is queued."""
    start_bot(ATELIER_DAILY_GPU_SECONDS=TINY_DEFAULT)
    mod_answer(fake_discord, "quota set", quota(0.0001))
    answer = private_answer(fake_discord, draw_as_supporter(fake_discord)).content
    assert answer.startswith("❌ your daily GPU time is used up") and "resets at 00:00 UTC" in answer
    assert all_jobs(registered) == []


def test_generous_role_quota_admits(start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The same member with an hour a day from their role is queued."""
    start_bot(ATELIER_DAILY_GPU_SECONDS=TINY_DEFAULT)
    mod_answer(fake_discord, "quota set", quota(60))
    assert queued(fake_discord, draw_as_supporter(fake_discord)).startswith("queued — #1")
    assert len(all_jobs(registered)) == 1


def test_role_quota_raises_the_queue_cap(start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings) -> None:
    """With the studio's cap at 1 waiting job, a role allowing 2 lets its member queue a second, not a third."""
    start_bot(ATELIER_MAX_QUEUED_PER_MEMBER="1")
    mod_answer(fake_discord, "quota set", quota(0, max_queued=2))
    for _ in range(2):
        queued(fake_discord, draw_as_supporter(fake_discord))
    answer = private_answer(fake_discord, draw_as_supporter(fake_discord)).content
    assert "2 jobs waiting, the most one member may queue" in answer


def test_members_roles_are_recorded_from_the_interaction(
    start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """The roles a member holds when they use a command are stored with them (not @everyone)."""
    start_bot()
    queued(fake_discord, draw_as_supporter(fake_discord))
    with session_scope(registered.database_url) as session:
        bob = session.scalar(select(User).where(User.discord_id == BOB))
        assert bob is not None and bob.discord_role_ids == [SUPPORTER_ROLE_ID]


def test_quota_set_list_remove_are_audited(
    start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """A moderator sets a role's quota (shown in words), lists it, removes it; each change is audited."""
    start_bot()
    set_answer = mod_answer(fake_discord, "quota set", quota(90, max_queued=5))
    assert set_answer.startswith(f"✅ <@&{SUPPORTER_ROLE_ID}>: 90 GPU minutes a day, at most 5 waiting")
    listed = mod_answer(fake_discord, "quota list")
    assert listed == f"<@&{SUPPORTER_ROLE_ID}> (Supporters) — 90 GPU minutes a day, at most 5 waiting"
    assert (
        mod_answer(fake_discord, "quota remove", [ROLE])
        == f"✅ <@&{SUPPORTER_ROLE_ID}> has no quota of its own any more"
    )
    with session_scope(registered.database_url) as session:
        assert session.scalars(select(RoleQuota)).all() == []
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["quota.set", "quota.remove"]


def test_removing_a_role_without_a_quota_explains(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    """A role without a quota gets a private sentence."""
    start_bot()
    assert mod_answer(fake_discord, "quota remove", [ROLE]) == f"❌ the role {SUPPORTER_ROLE_ID} has no quota"
