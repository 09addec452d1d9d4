"""Per-channel policy: which checkpoints a Discord channel may use, and how its results are posted.

Why per channel: communities split their server by theme (#anime, #photoreal) and by audience, and
moderators want each channel to render what it is for. A channel without a row (or with an empty
list) allows every enabled checkpoint. Checkpoints marked `nsfw_allowed` are refused outside
age-restricted channels whatever the list says: Discord tells the bot which channels those are, and
the service only takes its word as a flag. Results are posted behind a spoiler when they come from
an NSFW-allowed checkpoint outside an age-restricted channel, or when moderators turned spoilers on
for the channel. Every moderator change is checked and audited here, so no door can skip it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from atelier.errors import InvalidInput, Refused
from atelier.schema import ChannelPolicy, ModelFile, ModelKind, User
from atelier.services import audit
from atelier.services.models import enabled_checkpoints


@dataclass(frozen=True)
class ChannelRules:
    """A channel's policy as the bot shows it; `allowed` empty: every enabled checkpoint."""

    channel_id: int
    allowed: tuple[str, ...]
    spoiler_all: bool

    def describe(self) -> str:
        models = ", ".join(self.allowed) if self.allowed else "every enabled checkpoint"
        spoilers = "every result behind a spoiler" if self.spoiler_all else "spoilers only for NSFW models"
        return f"models: {models}; {spoilers}"


def _allowed_ids(policy: ChannelPolicy | None) -> list[int]:
    return [int(model_id) for model_id in (policy.allowed_model_ids or [])] if policy is not None else []


def _names(session: Session, model_ids: list[int]) -> tuple[str, ...]:
    if not model_ids:
        return ()
    query = select(ModelFile.name).where(ModelFile.id.in_(model_ids)).order_by(ModelFile.name)
    return tuple(session.scalars(query))


def rules(session: Session, channel_id: int) -> ChannelRules:
    policy = session.get(ChannelPolicy, channel_id)
    spoiler_all = bool(policy.spoiler_all) if policy is not None else False
    return ChannelRules(channel_id, _names(session, _allowed_ids(policy)), spoiler_all)


def usable_checkpoints(session: Session, channel_id: int | None, age_restricted: bool) -> list[ModelFile]:
    """The enabled checkpoints a member may pick in this channel (what autocomplete offers)."""
    policy = session.get(ChannelPolicy, channel_id) if channel_id is not None else None
    allowed = set(_allowed_ids(policy))
    return [
        model
        for model in enabled_checkpoints(session)
        if (not allowed or model.id in allowed) and (age_restricted or not model.nsfw_allowed)
    ]


def check_channel(session: Session, channel_id: int | None, age_restricted: bool, checkpoint: ModelFile) -> None:
    """Refuse a job for `checkpoint` in this channel (None: a direct message) when the channel's list
    leaves it out, or when it is NSFW-allowed and the channel is not age-restricted."""
    if checkpoint.nsfw_allowed and not age_restricted:
        raise Refused(
            f"{checkpoint.name!r} may render NSFW images, so it is only used in age-restricted channels; "
            "pick another model or draw in an age-restricted channel"
        )
    policy = session.get(ChannelPolicy, channel_id) if channel_id is not None else None
    allowed = _allowed_ids(policy)
    if allowed and checkpoint.id not in allowed:
        names = ", ".join(_names(session, allowed)) or "none (ask a moderator)"
        raise Refused(f"{checkpoint.name!r} is not allowed in this channel; the models allowed here are: {names}")


def spoiler(nsfw: bool, age_restricted: bool, spoiler_all: bool) -> bool:
    """Whether an image is posted behind a spoiler: NSFW outside age-restricted channels, or always
    where moderators asked for it."""
    return spoiler_all or (nsfw and not age_restricted)


def spoiler_all(session: Session, channel_id: int | None) -> bool:
    policy = session.get(ChannelPolicy, channel_id) if channel_id is not None else None
    return bool(policy.spoiler_all) if policy is not None else False


def _checkpoint(session: Session, name: str) -> ModelFile:
    name = name.strip().removeprefix("checkpoint:")
    query = select(ModelFile).where(ModelFile.kind == ModelKind.CHECKPOINT, ModelFile.name == name)
    model = session.scalar(query)
    if model is None:
        raise InvalidInput("model", f"no checkpoint is called {name!r}")
    return model


def _policy(session: Session, channel_id: int) -> ChannelPolicy:
    policy = session.get(ChannelPolicy, channel_id)
    if policy is None:
        policy = ChannelPolicy(channel_id=channel_id, allowed_model_ids=[], spoiler_all=False)
        session.add(policy)
    return policy


def _save(session: Session, actor: User | None, policy: ChannelPolicy, action: str, details: str) -> ChannelRules:
    policy.updated_by_id = actor.id if actor is not None else None
    policy.updated_at = datetime.now(UTC)
    audit.record(session, actor, action, f"channel {policy.channel_id}", details)
    session.commit()
    return rules(session, policy.channel_id)


def allow(session: Session, actor: User | None, channel_id: int, name: str) -> ChannelRules:
    """Add a checkpoint to the channel's list (the first one turns "every checkpoint" into a list)."""
    audit.require_moderator(actor, "choose a channel's models")
    model = _checkpoint(session, name)
    policy = _policy(session, channel_id)
    ids = _allowed_ids(policy)
    if model.id not in ids:
        policy.allowed_model_ids = [*ids, model.id]
    return _save(session, actor, policy, "channel.allow", model.name)


def disallow(session: Session, actor: User | None, channel_id: int, name: str) -> ChannelRules:
    """Take a checkpoint off the channel's list; removing the last one allows every checkpoint again."""
    audit.require_moderator(actor, "choose a channel's models")
    model = _checkpoint(session, name)
    policy = session.get(ChannelPolicy, channel_id)
    ids = _allowed_ids(policy)
    if policy is None or model.id not in ids:
        raise InvalidInput("model", f"{model.name!r} is not on this channel's list")
    policy.allowed_model_ids = [model_id for model_id in ids if model_id != model.id]
    return _save(session, actor, policy, "channel.disallow", model.name)


def clear(session: Session, actor: User | None, channel_id: int) -> ChannelRules:
    """Empty the channel's list: every enabled checkpoint is allowed there again."""
    audit.require_moderator(actor, "choose a channel's models")
    policy = _policy(session, channel_id)
    policy.allowed_model_ids = []
    return _save(session, actor, policy, "channel.clear", "")


def set_spoilers(session: Session, actor: User | None, channel_id: int, on: bool) -> ChannelRules:
    """Post every result in the channel behind a spoiler, or only NSFW ones outside age-restricted channels."""
    audit.require_moderator(actor, "change a channel's spoilers")
    policy = _policy(session, channel_id)
    policy.spoiler_all = on
    return _save(session, actor, policy, "channel.spoilers", "on" if on else "off")
