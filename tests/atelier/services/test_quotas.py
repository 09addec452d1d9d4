"""Per-Discord-role quotas: moderators set them (checked, audited), members get the most generous limits."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.errors import Forbidden, InvalidInput, NotFound
from atelier.schema import AuditEntry, Role, User
from atelier.services import quotas
from atelier.settings import SchedulingSettings, Settings

SUPPORTERS = 730_000_000_000_000_001
ARTISTS = 730_000_000_000_000_002


def user(session: Session, name: str, role: Role = Role.MEMBER, roles: list[int] | None = None) -> User:
    row = User(name=name, role=role, discord_role_ids=roles or [])
    session.add(row)
    session.commit()
    return row


def rules(**values: object) -> Settings:
    """Settings with these scheduling values (only `scheduling` is read by `limits_for`)."""
    return Settings.model_construct(scheduling=SchedulingSettings(**values))  # type: ignore[arg-type]


def test_quotas_are_listed_by_role_name(session: Session) -> None:
    """The list reads alphabetically by role name, whatever the order they were set in."""
    quotas.set_quota(session, None, SUPPORTERS, "Supporters", 3600, 10)
    quotas.set_quota(session, None, ARTISTS, "Artists", 600, 0)
    assert [q.role_name for q in quotas.list_quotas(session)] == ["Artists", "Supporters"]


def test_setting_a_quota_again_changes_it(session: Session) -> None:
    """One row per role: a second set replaces the limits and the name."""
    quotas.set_quota(session, None, SUPPORTERS, "Supporters", 3600, 10)
    changed = quotas.set_quota(session, None, SUPPORTERS, "Patrons", 60, 2)
    assert (changed.role_name, changed.daily_gpu_seconds, changed.max_queued) == ("Patrons", 60.0, 2)
    assert len(quotas.list_quotas(session)) == 1


def test_members_may_not_set_quotas(session: Session) -> None:
    """Only moderators change quotas."""
    with pytest.raises(Forbidden, match="only moderators set role quotas"):
        quotas.set_quota(session, user(session, "ada"), SUPPORTERS, "Supporters", 3600, 10)


@pytest.mark.parametrize(
    ("gpu", "queued", "field"),
    [(-1.0, 1, "daily_gpu_seconds"), (60.0, -1, "max_queued"), (float("nan"), 1, "daily_gpu_seconds")],
)
def test_negative_limits_are_refused_naming_the_field(session: Session, gpu: float, queued: int, field: str) -> None:
    """A negative (or not-a-number) limit is refused with the field it came in."""
    with pytest.raises(InvalidInput) as refused:
        quotas.set_quota(session, None, SUPPORTERS, "Supporters", gpu, queued)
    assert refused.value.field == field
    assert quotas.list_quotas(session) == []


def test_changes_are_audited_with_the_moderator(session: Session) -> None:
    """Setting and removing a quota each leave an audit entry naming the moderator and the role."""
    moderator = user(session, "mo", Role.MODERATOR)
    quotas.set_quota(session, moderator, SUPPORTERS, "Supporters", 3600, 10)
    quotas.remove_quota(session, moderator, SUPPORTERS)
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.target, e.actor_id) for e in entries] == [
        ("quota.set", f"role Supporters ({SUPPORTERS})", moderator.id),
        ("quota.remove", f"role Supporters ({SUPPORTERS})", moderator.id),
    ]
    assert entries[0].details == "60 GPU minutes a day, at most 10 waiting"


def test_removing_an_absent_quota_explains(session: Session) -> None:
    """A role without a quota gets a sentence, not a silent success."""
    with pytest.raises(NotFound, match=f"the role {SUPPORTERS} has no quota"):
        quotas.remove_quota(session, None, SUPPORTERS)


def test_member_without_roles_gets_the_studio_defaults(session: Session) -> None:
    """No quota rows among the member's roles: the settings for their Atelier role."""
    defaults = rules(daily_gpu_seconds={"member": 300.0}, max_queued_per_member=3)
    quotas.set_quota(session, None, SUPPORTERS, "Supporters", 3600, 10)
    assert quotas.limits_for(session, defaults, user(session, "ada")) == quotas.Limits(300.0, 3)


def test_most_generous_role_wins(session: Session) -> None:
    """Holding several roles with quotas: the largest of each limit, each from whichever role gives it."""
    defaults = rules(daily_gpu_seconds={"member": 300.0}, max_queued_per_member=3)
    quotas.set_quota(session, None, SUPPORTERS, "Supporters", 3600, 5)
    quotas.set_quota(session, None, ARTISTS, "Artists", 600, 8)
    ada = user(session, "ada", roles=[SUPPORTERS, ARTISTS])
    assert quotas.limits_for(session, defaults, ada) == quotas.Limits(3600.0, 8)


def test_unlimited_beats_any_number(session: Session) -> None:
    """A role quota of 0 (unlimited) lifts the limit however large the others are."""
    defaults = rules(daily_gpu_seconds={"member": 300.0}, max_queued_per_member=3)
    quotas.set_quota(session, None, SUPPORTERS, "Supporters", 0, 0)
    ada = user(session, "ada", roles=[SUPPORTERS])
    assert quotas.limits_for(session, defaults, ada) == quotas.Limits(0.0, 0)


def test_a_smaller_role_quota_does_not_lower_the_defaults(session: Session) -> None:
    """Role quotas only widen: a role with less than the studio's default leaves the default."""
    defaults = rules(daily_gpu_seconds={"member": 300.0}, max_queued_per_member=3)
    quotas.set_quota(session, None, SUPPORTERS, "Supporters", 60, 1)
    ada = user(session, "ada", roles=[SUPPORTERS])
    assert quotas.limits_for(session, defaults, ada) == quotas.Limits(300.0, 3)


def test_discord_roles_are_recorded_sorted_and_once(session: Session) -> None:
    """The member's role ids are stored as a sorted list without repeats."""
    ada = user(session, "ada")
    quotas.record_discord_roles(session, ada, [ARTISTS, SUPPORTERS, ARTISTS])
    session.expire_all()
    assert session.get(User, ada.id).discord_role_ids == [SUPPORTERS, ARTISTS]  # type: ignore[union-attr]
