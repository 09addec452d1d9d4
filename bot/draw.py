"""`/draw`: defer, submit through `atelier.services.jobs.submit`, answer with the queue position.

Deferring comes first, before any database or broker call, because Discord invalidates the
interaction if nothing answers within 3 seconds and a database under load can take longer.
Model and size are suggested by autocomplete (any number of checkpoints, found by typing; size
presets computed for the chosen model's native area) and checked again when the job is submitted.
Validation is atelier's: the option bounds below are only hints for Discord's client, and a bad
value that gets through is refused by `parse_recipe` with the field named, never clamped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from atelier.errors import AtelierError
from atelier.recipe import CFG_RANGE, MAX_IMAGES, MAX_PROMPT_CHARS, MAX_SEED, STEPS_RANGE
from atelier.samplers import supported_samplers
from atelier.settings import Settings
from bot import messages, store, store_commands
from bot.choices import MAX_CHOICES, WARM_MARK, ModelChoice, model_choices, size_presets
from bot.members import author_of, where_of
from bot.replies import answer_privately
from bot.store import Where
from bot.tracking import track

if TYPE_CHECKING:
    from bot.client import AtelierBot

log = logging.getLogger(__name__)

Prompt = app_commands.Range[str, 1, MAX_PROMPT_CHARS]
Seed = app_commands.Range[int, 0, MAX_SEED]
Steps = app_commands.Range[int, STEPS_RANGE[0], STEPS_RANGE[1]]
Cfg = app_commands.Range[float, CFG_RANGE[0], CFG_RANGE[1]]
Count = app_commands.Range[int, 1, MAX_IMAGES]
Name = app_commands.Range[str, 1, 200]
SAMPLER_CHOICES = [app_commands.Choice(name=name, value=name) for name in supported_samplers()[:MAX_CHOICES]]


@app_commands.command(name="draw", description="Render an image from a prompt (A1111 prompt syntax)")
@app_commands.describe(
    prompt="What to draw; (word:1.2) weights a word, [a:b:0.5] switches halfway, <lora:name:0.8> adds a LoRA",
    negative="What to keep out of the picture",
    model=f"The checkpoint; {WARM_MARK} marks one a worker holds loaded (starts sooner)",
    sampler="The sampler (A1111 names)",
    size="An aspect preset sized for the model, or WxH",
    steps=f"Sampling steps ({STEPS_RANGE[0]}-{STEPS_RANGE[1]}); more is slower",
    cfg=f"How closely to follow the prompt ({CFG_RANGE[0]:g}-{CFG_RANGE[1]:g}, usually 5-9)",
    seed="Same seed and settings give the same picture; empty for a random seed",
    count=f"How many pictures (1-{MAX_IMAGES})",
)
@app_commands.choices(sampler=SAMPLER_CHOICES)
async def draw(
    interaction: discord.Interaction[AtelierBot],
    prompt: Prompt,
    negative: Prompt | None = None,
    model: Name | None = None,
    sampler: str | None = None,
    size: app_commands.Range[str, 1, 20] | None = None,
    steps: Steps | None = None,
    cfg: Cfg | None = None,
    seed: Seed | None = None,
    count: Count | None = None,
) -> None:
    received = time.monotonic()  # the token's 15 minutes run from about now
    await interaction.response.defer(thinking=True)
    bot = interaction.client
    options = {
        "prompt": prompt,
        "negative_prompt": negative,
        "checkpoint": model,
        "sampler": sampler,
        "size": size,
        "steps": steps,
        "cfg_scale": cfg,
        "seed": seed,
        "count": count,
    }
    data = {key: value for key, value in options.items() if value is not None}
    try:
        queued = await asyncio.to_thread(
            store.submit_draw, bot.settings, author_of(interaction), where_of(interaction), data
        )
    except AtelierError as error:
        await answer_privately(interaction, messages.input_error(error))
        return
    await track(interaction, queued, received)


class _Cached:
    """The checkpoints usable in each channel for a few seconds: autocomplete asks on every keystroke."""

    seconds = 5.0

    def __init__(self) -> None:
        self._found: dict[Where, tuple[float, list[ModelChoice]]] = {}

    async def get(self, settings: Settings, where: Where) -> list[ModelChoice]:
        at, value = self._found.get(where, (-1e9, []))
        if time.monotonic() - at > self.seconds:
            value = await asyncio.to_thread(store_commands.checkpoint_choices, settings, where)
            now = time.monotonic()
            self._found = {key: kept for key, kept in self._found.items() if now - kept[0] <= self.seconds}
            self._found[where] = (now, value)
        return value


_checkpoints = _Cached()


@draw.autocomplete("model")
async def model_autocomplete(
    interaction: discord.Interaction[AtelierBot], current: str
) -> list[app_commands.Choice[str]]:
    found = await _checkpoints.get(interaction.client.settings, where_of(interaction))
    return [app_commands.Choice(name=label, value=value) for label, value in model_choices(found, current)]


@draw.autocomplete("size")
async def size_autocomplete(
    interaction: discord.Interaction[AtelierBot], current: str
) -> list[app_commands.Choice[str]]:
    """Presets for the model chosen so far (the default's when none), filtered by what is typed."""
    chosen = str(getattr(interaction.namespace, "model", None) or "")
    models = await _checkpoints.get(interaction.client.settings, where_of(interaction))
    native = await asyncio.to_thread(store_commands.native_size, interaction.client.settings, chosen) if models else 512
    typed = current.strip().lower()
    return [
        app_commands.Choice(name=label, value=value) for label, value in size_presets(native) if typed in label.lower()
    ]
