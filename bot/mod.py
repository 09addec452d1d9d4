"""`/mod`: moderator commands (models, banned terms, hidden images, the forced negative, the audit log).

Every command first checks the member in code (`bot.moderators`) and refuses privately at once,
then defers privately before any database call (Discord's 3 seconds), then answers privately:
moderation is not announced in the channel. Every change is written to the audit log by the
service that makes it, so `/mod audit` also shows what was done from the CLI.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands
from discord.utils import escape_markdown

from atelier.errors import AtelierError
from atelier.services.audit import Entry
from atelier.services.model_admin import ModelInfo
from bot import messages, store_mod
from bot.choices import MAX_CHOICES, clip_label, parse_image_ref
from bot.members import author_of
from bot.moderators import may_moderate, refuse_unless_moderator
from bot.replies import answer_privately
from bot.store import Author

if TYPE_CHECKING:
    from bot.client import AtelierBot

log = logging.getLogger(__name__)

T = TypeVar("T")
ModelName = app_commands.Range[str, 1, 220]
IMAGE_HELP = "A gallery image id (42) or a link to it (…/images/42)"

mod = app_commands.Group(
    name="mod",
    description="Moderator tools: models, banned words, hidden images, forced negative, audit log",
    guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)
model = app_commands.Group(name="model", description="Enable, disable or inspect models", parent=mod)
ban = app_commands.Group(name="ban", description="Words and phrases kept out of prompts", parent=mod)


def _author(interaction: discord.Interaction[AtelierBot]) -> Author:
    return author_of(interaction)


async def _run(interaction: discord.Interaction[AtelierBot], work: Callable[..., T], *args: Any) -> T | None:
    """Check, defer, do the blocking work in a thread; None (and a private sentence) when refused or
    when the service says the request was wrong."""
    bot = interaction.client
    if not await refuse_unless_moderator(interaction, bot.settings.web.moderator_roles):
        return None
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        return await asyncio.to_thread(work, bot.settings, *args)
    except AtelierError as error:
        await answer_privately(interaction, messages.input_error(error))
        return None


async def _say(interaction: discord.Interaction[AtelierBot], text: str) -> None:
    await interaction.followup.send(messages.clip(text, messages.MESSAGE_LIMIT), ephemeral=True)


async def model_autocomplete(
    interaction: discord.Interaction[AtelierBot], current: str
) -> list[app_commands.Choice[str]]:
    """Checkpoints and LoRAs, enabled or not (moderators only: others see no suggestions)."""
    if not may_moderate(interaction, interaction.client.settings.web.moderator_roles):
        return []
    found = await asyncio.to_thread(store_mod.models, interaction.client.settings)
    needle = current.strip().lower()
    matching = [m for m in found if needle in m.ref.lower()]
    matching.sort(key=lambda m: (not m.name.lower().startswith(needle), m.ref.lower()))
    return [app_commands.Choice(name=clip_label(_label(m)), value=m.ref) for m in matching[:MAX_CHOICES]]


def _label(info: ModelInfo) -> str:
    state = "default" if info.is_default else ("enabled" if info.enabled else "disabled")
    return f"{info.name} ({info.kind.value}, {info.base_arch}, {state})"


def _describe(info: ModelInfo) -> str:
    state = "**default**" if info.is_default else ("enabled" if info.enabled else "**disabled**")
    lines = [
        f"**{escape_markdown(info.name)}** — {info.kind.value}, {info.base_arch}, {state}",
        f"hash `{info.autov2}` · {info.size_bytes / 2**20:.1f} MiB · NSFW {'allowed' if info.nsfw_allowed else 'no'}",
    ]
    if info.kind.value == "checkpoint":
        lines.append(f"native size {info.native_size}x{info.native_size}")
    else:
        lines.append(f"use as `<lora:{info.name}:1>`")
    if info.trigger_words:
        lines.append("triggers: " + ", ".join(escape_markdown(w) for w in info.trigger_words))
    return "\n".join(lines)


async def _model_action(interaction: discord.Interaction[AtelierBot], name: str, action: str) -> None:
    info = await _run(interaction, store_mod.set_model, _author(interaction), name, action)
    if info is not None:
        log.info("model %s: %s by %s", info.ref, action, interaction.user.id)
        await _say(interaction, f"✅ {action}: {_describe(info)}")


@model.command(name="enable", description="Let members use a checkpoint or LoRA")
@app_commands.describe(name="The model's name (lora:name when a LoRA shares a checkpoint's name)")
@app_commands.autocomplete(name=model_autocomplete)
async def model_enable(interaction: discord.Interaction[AtelierBot], name: ModelName) -> None:
    await _model_action(interaction, name, "enable")


@model.command(name="disable", description="Stop members using a checkpoint or LoRA")
@app_commands.describe(name="The model's name (lora:name when a LoRA shares a checkpoint's name)")
@app_commands.autocomplete(name=model_autocomplete)
async def model_disable(interaction: discord.Interaction[AtelierBot], name: ModelName) -> None:
    await _model_action(interaction, name, "disable")


@model.command(name="default", description="The checkpoint /draw uses when no model is chosen")
@app_commands.describe(name="An enabled checkpoint")
@app_commands.autocomplete(name=model_autocomplete)
async def model_default(interaction: discord.Interaction[AtelierBot], name: ModelName) -> None:
    await _model_action(interaction, name, "default")


@model.command(name="info", description="A model's kind, base, state, hash and trigger words")
@app_commands.describe(name="The model's name")
@app_commands.autocomplete(name=model_autocomplete)
async def model_info(interaction: discord.Interaction[AtelierBot], name: ModelName) -> None:
    info = await _run(interaction, store_mod.model_info, name)
    if info is not None:
        await _say(interaction, _describe(info))


@ban.command(name="add", description="Refuse prompts containing a word or phrase, with the rule members are shown")
@app_commands.describe(term="A word or phrase (matched as whole words)", reason="The rule a refused member reads")
async def ban_add(
    interaction: discord.Interaction[AtelierBot],
    term: app_commands.Range[str, 1, 200],
    reason: app_commands.Range[str, 1, 300],
) -> None:
    rule = await _run(interaction, store_mod.ban, _author(interaction), term, reason)
    if rule is not None:
        await _say(interaction, f"✅ banned `{rule.term}` — {escape_markdown(rule.reason)}")


@ban.command(name="remove", description="Allow a banned word or phrase again")
@app_commands.describe(term="The banned word or phrase")
async def ban_remove(interaction: discord.Interaction[AtelierBot], term: app_commands.Range[str, 1, 200]) -> None:
    removed = await _run(interaction, store_mod.unban, _author(interaction), term)
    if removed is not None:
        await _say(interaction, f"✅ `{removed}` is allowed again")


@ban.command(name="list", description="The banned words and phrases with their rules")
async def ban_list(interaction: discord.Interaction[AtelierBot]) -> None:
    rules = await _run(interaction, store_mod.bans)
    if rules is None:
        return
    if not rules:
        await _say(interaction, "No words or phrases are banned.")
        return
    await _say(interaction, _lines([f"`{r.term}` — {escape_markdown(r.reason)}" for r in rules]))


def _lines(lines: list[str]) -> str:
    """As many whole lines as fit in a message, and how many did not."""
    shown: list[str] = []
    used = 0
    for number, line in enumerate(lines):
        more = f"… and {len(lines) - number} more"
        if used + len(line) + 1 + len(more) > messages.MESSAGE_LIMIT:
            shown.append(more)
            break
        shown.append(line)
        used += len(line) + 1
    return "\n".join(shown)


@mod.command(name="hide", description="Hide a gallery image (it stays in the database; /mod unhide brings it back)")
@app_commands.describe(image=IMAGE_HELP)
async def hide(interaction: discord.Interaction[AtelierBot], image: app_commands.Range[str, 1, 300]) -> None:
    await _set_hidden(interaction, image, True)


@mod.command(name="unhide", description="Show a hidden gallery image again")
@app_commands.describe(image=IMAGE_HELP)
async def unhide(interaction: discord.Interaction[AtelierBot], image: app_commands.Range[str, 1, 300]) -> None:
    await _set_hidden(interaction, image, False)


async def _set_hidden(interaction: discord.Interaction[AtelierBot], image: str, hidden: bool) -> None:
    if not await refuse_unless_moderator(interaction, interaction.client.settings.web.moderator_roles):
        return
    try:
        image_id = parse_image_ref(image)
    except AtelierError as error:
        await interaction.response.send_message(messages.input_error(error), ephemeral=True)
        return
    if await _run(interaction, store_mod.set_hidden, _author(interaction), image_id, hidden) is not None:
        await _say(interaction, f"✅ image #{image_id} is {'hidden from' if hidden else 'back in'} the gallery")


@mod.command(name="negative", description="Text added to every job's negative prompt (empty: none)")
@app_commands.describe(text="Appended to members' negative prompts; leave out to clear it")
async def negative(interaction: discord.Interaction[AtelierBot], text: app_commands.Range[str, 0, 500] = "") -> None:
    forced = await _run(interaction, store_mod.set_negative, _author(interaction), text)
    if forced is None:
        return
    if forced:
        await _say(interaction, f"✅ every new job's negative prompt now ends with: {escape_markdown(forced)}")
    else:
        await _say(interaction, "✅ no text is forced into negative prompts any more")


@mod.command(name="audit", description="The last 20 moderator actions")
async def audit(interaction: discord.Interaction[AtelierBot]) -> None:
    entries = await _run(interaction, store_mod.audit_log)
    if entries is None:
        return
    if not entries:
        await _say(interaction, "No moderator actions yet.")
        return
    await _say(interaction, _lines([_audit_line(e) for e in entries]))


def _audit_line(entry: Entry) -> str:
    at = entry.at if entry.at.tzinfo is not None else entry.at.replace(tzinfo=UTC)  # SQLite drops the zone
    details = f" — {escape_markdown(messages.clip(entry.details, 200))}" if entry.details else ""
    target = escape_markdown(entry.target)
    return f"<t:{int(at.timestamp())}:f> **{escape_markdown(entry.actor)}** {entry.action} {target}{details}"
