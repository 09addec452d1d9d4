"""/mod against the real bot process and the fake Discord: moderators act, everyone else is refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import select

from atelier.db import session_scope
from atelier.schema import AuditEntry, BannedTerm, Image, ModelFile, ModelKind, Role, User
from atelier.services import policy
from atelier.settings import Settings
from tests.helpers.fake_discord import (
    EPHEMERAL,
    MEMBER_PERMISSIONS,
    MODERATOR_ROLE_ID,
    ROLE_OPTION,
    SUPPORTER_ROLE_ID,
    FakeDiscord,
    SentInteraction,
    subcommand,
)
from tests.helpers.processes import Process

from .actions import StartBot, all_jobs, answered, choices, delivered_image, draw, private_answer

Options = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""A subcommand's options: by name (types guessed from the values), or as Discord's option objects."""

ROLE = {"name": "role", "type": ROLE_OPTION, "value": str(SUPPORTER_ROLE_ID)}
MOD_COMMANDS: dict[str, Options] = {
    "model enable": {"name": "tiny-test"},
    "model disable": {"name": "tiny-test"},
    "model default": {"name": "tiny-test"},
    "model info": {"name": "tiny-test"},
    "ban add": {"term": "gore", "reason": "no gore"},
    "ban remove": {"term": "gore"},
    "ban list": {},
    "hide": {"image": "1"},
    "unhide": {"image": "1"},
    "negative": {"text": "blurry"},
    "audit": {},
    "channel allow": {"model": "tiny-test"},
    "channel disallow": {"model": "tiny-test"},
    "channel show": {},
    "channel clear": {},
    "channel spoilers": {"mode": "on"},
    "quota set": [
        ROLE,
        {"name": "gpu_minutes_per_day", "type": 10, "value": 60.0},
        {"name": "max_queued", "type": 4, "value": 5},
    ],
    "quota remove": [ROLE],
    "quota list": {},
}


def mod(fake: FakeDiscord, path: str, options: Options, **member: object) -> SentInteraction:
    """Send `/mod <path>` (e.g. "ban add") with options, as a member (`roles=`, `permissions=`)."""
    return fake.send_slash_command("mod", subcommand(*path.split(), options=options), **member)  # type: ignore[arg-type]


def mod_answer(fake: FakeDiscord, path: str, options: Options | None = None, **member: object) -> str:
    """The private answer to `/mod <path>` (by default as Ada, who can manage the server)."""
    return private_answer(fake, mod(fake, path, options or {}, **member)).content


def add_lora(settings: Settings, name: str, *, enabled: bool = True) -> None:
    with session_scope(settings.database_url) as session:
        session.add(
            ModelFile(kind=ModelKind.LORA, name=name, file_path=f"loras/{name}.safetensors", sha256="0" * 64,
                      autov2="0" * 10, base_arch="sd1", trigger_words=["inkstyle"], enabled=enabled)
        )  # fmt: skip
        session.commit()


def audit_actions(settings: Settings) -> list[tuple[str, str]]:
    with session_scope(settings.database_url) as session:
        return [(e.action, e.target) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_mod_is_synced_with_its_subcommands_and_the_permission_hint(bot: Process, fake_discord: FakeDiscord) -> None:
    """Discord's client hides /mod from members without Manage Server (a hint; the bot checks itself)."""
    (command,) = [c for c in fake_discord.commands(fake_discord.guild_id) if c["name"] == "mod"]
    assert int(command["default_member_permissions"]) == 1 << 5  # Manage Server
    tree = {o["name"]: sorted(s["name"] for s in o.get("options", []) if s["type"] == 1) for o in command["options"]}
    assert tree == {"model": ["default", "disable", "enable", "info"], "ban": ["add", "list", "remove"],
                    "hide": [], "unhide": [], "negative": [], "audit": [],
                    "channel": ["allow", "clear", "disallow", "show", "spoilers"],
                    "quota": ["list", "remove", "set"]}  # fmt: skip


@pytest.mark.parametrize("path", list(MOD_COMMANDS))
def test_member_without_the_role_is_refused(
    bot: Process, fake_discord: FakeDiscord, registered: Settings, path: str
) -> None:
    """A member with neither a moderator role nor Manage Server gets a private refusal at once, and
    nothing changes."""
    sent = mod(fake_discord, path, MOD_COMMANDS[path], permissions=MEMBER_PERMISSIONS)
    callback = answered(fake_discord, sent)
    assert callback.at - sent.at < 3.0
    assert callback.json["type"] == 4 and callback.flags & EPHEMERAL
    assert "Only moderators" in callback.json["data"]["content"]
    assert audit_actions(registered) == []
    with session_scope(registered.database_url) as session:
        assert session.scalars(select(User)).all() == []


def test_moderator_role_is_enough(start_bot: StartBot, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A member holding a role from ATELIER_MODERATOR_ROLE_IDS may moderate without Manage Server,
    and is recorded as a moderator."""
    start_bot(ATELIER_MODERATOR_ROLE_IDS=str(MODERATOR_ROLE_ID))
    answer = mod_answer(fake_discord, "ban add", {"term": "gore", "reason": "no gore"},
                        roles=[MODERATOR_ROLE_ID], permissions=MEMBER_PERMISSIONS)  # fmt: skip
    assert answer == "✅ banned `gore` — no gore"
    with session_scope(registered.database_url) as session:
        (user,) = session.scalars(select(User)).all()
        assert user.role == Role.MODERATOR


def test_mod_refuses_in_direct_messages(bot: Process, fake_discord: FakeDiscord) -> None:
    """/mod from a DM is refused privately: moderation belongs to a server."""
    sent = fake_discord.send_slash_command("mod", subcommand("audit"), guild_id=None)
    callback = answered(fake_discord, sent)
    assert callback.flags & EPHEMERAL


def test_ban_add_list_remove_and_audit(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A moderator bans a term (its rule shown), lists it, allows it again; each change is audited."""
    assert (
        mod_answer(fake_discord, "ban add", {"term": "Gore", "reason": "see #rules"}) == "✅ banned `gore` — see #rules"
    )
    assert mod_answer(fake_discord, "ban list") == "`gore` — see #rules"
    assert mod_answer(fake_discord, "ban remove", {"term": "gore"}) == "✅ `gore` is allowed again"
    with session_scope(registered.database_url) as session:
        assert session.scalars(select(BannedTerm)).all() == []
    assert audit_actions(registered) == [("ban.add", "gore"), ("ban.remove", "gore")]


def test_ban_remove_of_an_unknown_term_explains(bot: Process, fake_discord: FakeDiscord) -> None:
    """Removing a term that is not banned is a private sentence, not an error."""
    assert mod_answer(fake_discord, "ban remove", {"term": "nope"}) == "❌ 'nope' is not a banned term"


def test_banned_term_refuses_draw_with_the_reason(bot: Process, fake_discord: FakeDiscord) -> None:
    """A term banned through /mod stops /draw with the moderator's reason."""
    mod_answer(fake_discord, "ban add", {"term": "gore", "reason": "no gore here"})
    answer = private_answer(fake_discord, fake_discord.send_slash_command("draw", {"prompt": "a gore scene"}))
    assert "no gore here" in answer.content


def test_model_disable_and_enable(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Disabling a LoRA takes it away from members; enabling brings it back; both audited."""
    add_lora(registered, "ink")
    assert "**disabled**" in mod_answer(fake_discord, "model disable", {"name": "lora:ink"})
    with session_scope(registered.database_url) as session:
        assert session.scalar(select(ModelFile.enabled).where(ModelFile.name == "ink")) is False
    assert "enabled" in mod_answer(fake_discord, "model enable", {"name": "ink"})
    assert audit_actions(registered) == [("model.disable", "lora:ink"), ("model.enable", "lora:ink")]


def test_last_checkpoint_cannot_be_disabled(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """The only enabled checkpoint stays enabled, and the moderator is told why."""
    answer = mod_answer(fake_discord, "model disable", {"name": "tiny-test"})
    assert answer.startswith("❌ **name**: 'tiny-test' is the only enabled checkpoint")
    assert audit_actions(registered) == []


def test_model_default_refuses_a_lora(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Only a checkpoint can be the default."""
    add_lora(registered, "ink")
    assert "only a checkpoint can be the default" in mod_answer(fake_discord, "model default", {"name": "ink"})


def test_model_info_describes_the_model(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Info shows kind, base, state and how to use a LoRA, with its trigger words."""
    add_lora(registered, "ink")
    answer = mod_answer(fake_discord, "model info", {"name": "ink"})
    assert answer.startswith("**ink** — lora, sd1, enabled")
    assert "`<lora:ink:1>`" in answer and "triggers: inkstyle" in answer


def test_model_autocomplete_offers_disabled_models(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """Moderators are offered checkpoints and LoRAs, disabled ones included, with their state."""
    add_lora(registered, "ink", enabled=False)
    sent = fake_discord.autocomplete("mod", {"name": ""}, "name", path=("model", "enable"))
    offered = {c["value"]: c["name"] for c in choices(fake_discord, sent)}
    assert offered == {"tiny-test": "tiny-test (checkpoint, sd1, default)", "lora:ink": "ink (lora, sd1, disabled)"}


def test_hide_and_unhide_an_image(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """Hide by gallery link takes the image out of the gallery; unhide brings it back; both audited."""
    image_id, _ = delivered_image(fake_discord, registered, prompt="a red circle")
    link = f"{registered.web.public_url}/images/{image_id}"
    assert mod_answer(fake_discord, "hide", {"image": link}) == f"✅ image #{image_id} is hidden from the gallery"
    with session_scope(registered.database_url) as session:
        assert session.scalar(select(Image.hidden).where(Image.id == image_id)) is True
    assert (
        mod_answer(fake_discord, "unhide", {"image": str(image_id)}) == f"✅ image #{image_id} is back in the gallery"
    )
    with session_scope(registered.database_url) as session:
        assert session.scalar(select(Image.hidden).where(Image.id == image_id)) is False
    assert audit_actions(registered) == [("image.hide", f"image {image_id}"), ("image.unhide", f"image {image_id}")]


def test_hide_of_a_bad_reference_explains(bot: Process, fake_discord: FakeDiscord) -> None:
    """Something that is no image id or link gets a private sentence at once."""
    callback = answered(fake_discord, mod(fake_discord, "hide", {"image": "a cat"}))
    assert callback.flags & EPHEMERAL
    assert "neither a gallery image id nor a link" in callback.json["data"]["content"]


def test_negative_sets_and_clears_the_forced_negative(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """/mod negative stores the studio's forced negative prompt; without text it clears it."""
    answer = mod_answer(fake_discord, "negative", {"text": "  blurry,   lowres "})
    assert answer == "✅ every new job's negative prompt now ends with: blurry, lowres"
    with session_scope(registered.database_url) as session:
        assert policy.forced_negative(session) == "blurry, lowres"
    assert mod_answer(fake_discord, "negative") == "✅ no text is forced into negative prompts any more"
    with session_scope(registered.database_url) as session:
        assert policy.forced_negative(session) == ""
    assert [action for action, _ in audit_actions(registered)] == ["negative.set", "negative.clear"]


def test_audit_lists_recent_actions_newest_first(bot: Process, fake_discord: FakeDiscord) -> None:
    """/mod audit shows who did what to what, newest first."""
    mod_answer(fake_discord, "ban add", {"term": "gore", "reason": "no gore"})
    mod_answer(fake_discord, "ban remove", {"term": "gore"})
    lines = mod_answer(fake_discord, "audit").split("\n")
    assert len(lines) == 2
    assert lines[0].endswith("**ada** ban.remove gore") and lines[0].startswith("<t:")
    assert lines[1].endswith("**ada** ban.add gore — no gore")


def test_every_mod_command_defers_before_working(bot: Process, fake_discord: FakeDiscord) -> None:
    """A moderator's command is deferred privately within the deadline."""
    sent = mod(fake_discord, "ban list", {})
    callback = answered(fake_discord, sent)
    assert callback.json["type"] == 5 and callback.flags & EPHEMERAL and callback.at - sent.at < 3.0


def test_forced_negative_reaches_the_next_draw(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """After /mod negative, a member's /draw is queued with the forced text after their own negative."""
    mod_answer(fake_discord, "negative", {"text": "blurry"})
    draw(fake_discord, prompt="a red circle", negative="dogs")
    assert all_jobs(registered)[-1].recipe["negative_prompt"] == "dogs, blurry"
