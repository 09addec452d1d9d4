"""`/mod channel` and `/mod quota`: what a channel may render, and what each Discord role may use.

Subgroups of `/mod`, so they share its moderator check in code (`bot.moderators`), its private
defer-then-answer pattern and its audit log. `/mod channel` acts on the channel it is typed in,
which is how moderators already think of a channel's rules ("here we draw anime"). `/mod quota`
takes a Discord role option, so moderators pick the role from Discord's own list, and counts GPU
time in minutes a day, the unit people read; the service stores seconds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.utils import escape_markdown

from atelier.services.channels import ChannelRules
from atelier.services.model_admin import ModelInfo
from bot import store_mod, store_policies
from bot.choices import MAX_CHOICES, clip_label
from bot.mod import _author, _lines, _run, _say, mod
from bot.moderators import may_moderate

if TYPE_CHECKING:
    from bot.client import AtelierBot

log = logging.getLogger(__name__)

CheckpointName = app_commands.Range[str, 1, 200]
GpuMinutes = app_commands.Range[float, 0.0, 1440.0]
MaxQueued = app_commands.Range[int, 0, 1000]

channel = app_commands.Group(name="channel", description="Which models this channel may use, and spoilers", parent=mod)
quota = app_commands.Group(name="quota", description="GPU time and queue length by Discord role", parent=mod)
SUBGROUPS = (channel, quota)


async def checkpoint_autocomplete(
    interaction: discord.Interaction[AtelierBot], current: str
) -> list[app_commands.Choice[str]]:
    """Checkpoints, enabled or not (moderators only: others see no suggestions)."""
    if not may_moderate(interaction, interaction.client.settings.web.moderator_roles):
        return []
    found: list[ModelInfo] = await asyncio.to_thread(store_mod.models, interaction.client.settings)
    needle = current.strip().lower()
    matching = [m for m in found if m.kind.value == "checkpoint" and needle in m.name.lower()]
    matching.sort(key=lambda m: (not m.name.lower().startswith(needle), m.name.lower()))
    labels = [(f"{m.name} ({m.base_arch}{', NSFW' if m.nsfw_allowed else ''})", m.name) for m in matching]
    return [app_commands.Choice(name=clip_label(label), value=name) for label, name in labels[:MAX_CHOICES]]


def _rules_text(rules: ChannelRules) -> str:
    models = ", ".join(f"`{escape_markdown(name)}`" for name in rules.allowed) or "every enabled checkpoint"
    spoilers = "every result behind a spoiler" if rules.spoiler_all else "spoilers for NSFW models' images only"
    return f"<#{rules.channel_id}> — models: {models}; {spoilers}"


async def _change(interaction: discord.Interaction[AtelierBot], action: str, model: str = "") -> None:
    channel_id = interaction.channel_id
    if channel_id is None:
        return
    rules = await _run(interaction, store_policies.change_channel, _author(interaction), channel_id, action, model)
    if rules is not None:
        log.info("channel %s: %s %s by %s", channel_id, action, model, interaction.user.id)
        await _say(interaction, f"✅ {_rules_text(rules)}")


@channel.command(name="allow", description="Add a checkpoint to this channel's list (then only listed ones are used)")
@app_commands.describe(model="A checkpoint's name")
@app_commands.autocomplete(model=checkpoint_autocomplete)
async def channel_allow(interaction: discord.Interaction[AtelierBot], model: CheckpointName) -> None:
    await _change(interaction, "allow", model)


@channel.command(name="disallow", description="Take a checkpoint off this channel's list")
@app_commands.describe(model="A checkpoint on the list")
@app_commands.autocomplete(model=checkpoint_autocomplete)
async def channel_disallow(interaction: discord.Interaction[AtelierBot], model: CheckpointName) -> None:
    await _change(interaction, "disallow", model)


@channel.command(name="clear", description="Empty this channel's list: every enabled checkpoint again")
async def channel_clear(interaction: discord.Interaction[AtelierBot]) -> None:
    await _change(interaction, "clear")


@channel.command(name="spoilers", description="Post every result here behind a spoiler, or only NSFW models' images")
@app_commands.describe(mode="on: every result; off: only images of NSFW models outside age-restricted channels")
async def channel_spoilers(interaction: discord.Interaction[AtelierBot], mode: Literal["on", "off"]) -> None:
    await _change(interaction, f"spoilers {mode}")


@channel.command(name="show", description="This channel's models and spoilers")
async def channel_show(interaction: discord.Interaction[AtelierBot]) -> None:
    channel_id = interaction.channel_id
    if channel_id is None:
        return
    rules = await _run(interaction, store_policies.channel_rules, channel_id)
    if rules is not None:
        await _say(interaction, _rules_text(rules))


@quota.command(name="set", description="Give a Discord role's members more GPU time or a longer queue")
@app_commands.describe(
    role="The Discord role",
    gpu_minutes_per_day="Rendering minutes a day for its members (0: unlimited)",
    max_queued="Jobs one member may have waiting (0: unlimited)",
)
async def quota_set(
    interaction: discord.Interaction[AtelierBot],
    role: discord.Role,
    gpu_minutes_per_day: GpuMinutes,
    max_queued: MaxQueued,
) -> None:
    author = _author(interaction)
    found = await _run(
        interaction, store_policies.set_quota, author, role.id, role.name, gpu_minutes_per_day, max_queued
    )
    if found is not None:
        log.info("quota of role %s set by %s: %s", role.id, interaction.user.id, found.described)
        await _say(interaction, f"✅ {role.mention}: {found.described} (the most generous of a member's roles counts)")


@quota.command(name="remove", description="Members of a role fall back to the studio's limits")
@app_commands.describe(role="The Discord role")
async def quota_remove(interaction: discord.Interaction[AtelierBot], role: discord.Role) -> None:
    removed = await _run(interaction, store_policies.remove_quota, _author(interaction), role.id)
    if removed is not None:
        await _say(interaction, f"✅ {role.mention} has no quota of its own any more")


@quota.command(name="list", description="The roles with quotas and their limits")
async def quota_list(interaction: discord.Interaction[AtelierBot]) -> None:
    found = await _run(interaction, store_policies.quota_list)
    if found is None:
        return
    if not found:
        await _say(interaction, "No role has a quota; every member has the studio's limits.")
        return
    lines = [f"<@&{q.role_id}> ({escape_markdown(q.role_name)}) — {q.described}" for q in found]
    await _say(interaction, _lines(lines))
