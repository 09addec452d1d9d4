"""The forced negative prompt: set by moderators, appended once to every submitted negative."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from atelier.errors import Forbidden, InvalidInput
from atelier.schema import Role, User
from atelier.services import audit, policy


def test_forced_negative_is_appended_after_the_members(session: Session) -> None:
    """The member's negative comes first, the forced text after a comma."""
    policy.set_forced_negative(session, "blurry, lowres")
    data = policy.with_policies(session, {"prompt": "a cat", "negative_prompt": "dogs"})
    assert data["negative_prompt"] == "dogs, blurry, lowres"


def test_forced_negative_alone_when_the_member_gave_none(session: Session) -> None:
    """An empty negative becomes the forced text alone."""
    policy.set_forced_negative(session, "blurry")
    assert policy.with_policies(session, {"prompt": "a cat"})["negative_prompt"] == "blurry"


def test_forced_negative_is_not_added_twice(session: Session) -> None:
    """A reroll of a stored recipe, which already carries the forced text, does not get it again."""
    policy.set_forced_negative(session, "blurry")
    once = policy.with_policies(session, {"negative_prompt": "dogs"})
    assert policy.with_policies(session, once)["negative_prompt"] == "dogs, blurry"


def test_no_policy_leaves_the_data_alone(session: Session) -> None:
    """Without a forced negative the submitted data is unchanged."""
    assert policy.with_policies(session, {"prompt": "a cat"}) == {"prompt": "a cat"}


def test_only_moderators_set_it(session: Session) -> None:
    """A member is refused and nothing is stored."""
    member = User(name="bob", role=Role.MEMBER)
    session.add(member)
    session.commit()
    with pytest.raises(Forbidden):
        policy.set_forced_negative(session, "blurry", member)
    assert policy.forced_negative(session) == ""


def test_overlong_forced_negative_is_refused(session: Session) -> None:
    """Over 500 characters is refused with the limit, never cut."""
    with pytest.raises(InvalidInput, match="the limit is 500"):
        policy.set_forced_negative(session, "x" * 501)


def test_setting_it_is_audited(session: Session) -> None:
    """The CLI (no actor) shows as the operator in the audit log."""
    policy.set_forced_negative(session, "blurry")
    (entry,) = audit.recent(session)
    assert (entry.actor, entry.action, entry.details) == ("operator", "negative.set", "blurry")
