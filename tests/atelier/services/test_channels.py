"""Per-channel policy: allow lists of checkpoints, NSFW models only in age-restricted channels,
spoilers, and moderators' changes checked and audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.errors import Forbidden, InvalidInput, Refused
from atelier.schema import AuditEntry, ModelFile, ModelKind, Role, User
from atelier.services import channels

CHANNEL = 710_000_000_000_000_001
OTHER_CHANNEL = 710_000_000_000_000_002


def checkpoint(session: Session, name: str, *, nsfw: bool = False, enabled: bool = True) -> ModelFile:
    model = ModelFile(
        kind=ModelKind.CHECKPOINT, name=name, file_path=f"checkpoints/{name}.safetensors", sha256=name[0] * 64,
        autov2=name[0] * 10, base_arch="sd1", enabled=enabled, nsfw_allowed=nsfw,
    )  # fmt: skip
    session.add(model)
    session.commit()
    return model


def test_channel_without_a_list_allows_every_checkpoint(session: Session) -> None:
    """No policy row: any safe checkpoint passes."""
    channels.check_channel(session, CHANNEL, False, checkpoint(session, "anime"))


def test_checkpoint_off_the_list_is_refused_naming_the_allowed(session: Session) -> None:
    """With a list, another checkpoint is refused and the sentence names what is allowed."""
    checkpoint(session, "anime")
    photo = checkpoint(session, "photo")
    channels.allow(session, None, CHANNEL, "anime")
    with pytest.raises(Refused, match="'photo' is not allowed in this channel; the models allowed here are: anime"):
        channels.check_channel(session, CHANNEL, False, photo)


def test_list_applies_to_its_channel_only(session: Session) -> None:
    """Another channel keeps every checkpoint."""
    checkpoint(session, "anime")
    photo = checkpoint(session, "photo")
    channels.allow(session, None, CHANNEL, "anime")
    channels.check_channel(session, OTHER_CHANNEL, False, photo)


def test_nsfw_checkpoint_is_refused_outside_age_restricted_channels(session: Session) -> None:
    """An NSFW-allowed checkpoint is refused in a channel that is not age-restricted, even when listed."""
    spicy = checkpoint(session, "spicy", nsfw=True)
    channels.allow(session, None, CHANNEL, "spicy")
    with pytest.raises(Refused, match="only used in age-restricted channels"):
        channels.check_channel(session, CHANNEL, False, spicy)


def test_nsfw_checkpoint_passes_in_an_age_restricted_channel(session: Session) -> None:
    """The same checkpoint is fine where Discord says the channel is age-restricted."""
    channels.check_channel(session, CHANNEL, True, checkpoint(session, "spicy", nsfw=True))


def test_nsfw_checkpoint_is_refused_in_direct_messages(session: Session) -> None:
    """A direct message (no channel id) is never age-restricted."""
    with pytest.raises(Refused):
        channels.check_channel(session, None, False, checkpoint(session, "spicy", nsfw=True))


def test_usable_checkpoints_follow_the_list_and_the_age_restriction(session: Session) -> None:
    """What autocomplete offers: enabled, on the list, NSFW only where age-restricted."""
    for name in ("anime", "photo"):
        checkpoint(session, name)
    checkpoint(session, "spicy", nsfw=True)
    checkpoint(session, "old", enabled=False)
    assert [m.name for m in channels.usable_checkpoints(session, CHANNEL, False)] == ["anime", "photo"]
    assert [m.name for m in channels.usable_checkpoints(session, CHANNEL, True)] == ["anime", "photo", "spicy"]
    channels.allow(session, None, CHANNEL, "photo")
    assert [m.name for m in channels.usable_checkpoints(session, CHANNEL, True)] == ["photo"]


def test_disallowing_the_last_model_allows_every_checkpoint_again(session: Session) -> None:
    """An emptied list means "every enabled checkpoint", as documented."""
    checkpoint(session, "anime")
    channels.allow(session, None, CHANNEL, "anime")
    assert channels.disallow(session, None, CHANNEL, "anime").allowed == ()


def test_disallowing_a_model_not_on_the_list_explains(session: Session) -> None:
    """Taking off a checkpoint that is not listed is a sentence naming the model."""
    checkpoint(session, "anime")
    with pytest.raises(InvalidInput, match="'anime' is not on this channel's list"):
        channels.disallow(session, None, CHANNEL, "anime")


def test_allowing_an_unknown_model_explains(session: Session) -> None:
    """A name that is no checkpoint is refused with the name."""
    with pytest.raises(InvalidInput, match="no checkpoint is called 'nope'"):
        channels.allow(session, None, CHANNEL, "nope")


def test_clear_empties_the_list(session: Session) -> None:
    """After clear, the channel's rules list no models."""
    checkpoint(session, "anime")
    channels.allow(session, None, CHANNEL, "anime")
    assert channels.clear(session, None, CHANNEL).allowed == ()


def test_members_may_not_change_a_channel(session: Session) -> None:
    """Only moderators change a channel's policy."""
    member = User(name="ada", role=Role.MEMBER)
    session.add(member)
    session.commit()
    with pytest.raises(Forbidden, match="only moderators change a channel's spoilers"):
        channels.set_spoilers(session, member, CHANNEL, True)


def test_changes_are_audited(session: Session) -> None:
    """Every change leaves an entry naming the moderator, the channel and what changed."""
    moderator = User(name="mo", role=Role.MODERATOR)
    session.add(moderator)
    session.commit()
    checkpoint(session, "anime")
    channels.allow(session, moderator, CHANNEL, "anime")
    channels.set_spoilers(session, moderator, CHANNEL, True)
    channels.clear(session, moderator, CHANNEL)
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.target, e.details, e.actor_id) for e in entries] == [
        ("channel.allow", f"channel {CHANNEL}", "anime", moderator.id),
        ("channel.spoilers", f"channel {CHANNEL}", "on", moderator.id),
        ("channel.clear", f"channel {CHANNEL}", "", moderator.id),
    ]


def test_spoiler_all_is_read_per_channel(session: Session) -> None:
    """Spoilers turned on for one channel stay off elsewhere."""
    channels.set_spoilers(session, None, CHANNEL, True)
    assert (channels.spoiler_all(session, CHANNEL), channels.spoiler_all(session, OTHER_CHANNEL)) == (True, False)


@pytest.mark.parametrize(
    ("nsfw", "age_restricted", "spoiler_all", "expected"),
    [
        (True, False, False, True),
        (True, True, False, False),
        (False, False, False, False),
        (False, True, True, True),
    ],
)
def test_spoiler_rule(nsfw: bool, age_restricted: bool, spoiler_all: bool, expected: bool) -> None:
    """NSFW images are spoilered outside age-restricted channels; spoiler_all spoilers everything."""
    assert channels.spoiler(nsfw, age_restricted, spoiler_all) is expected
