"""/draw's model, sampler, size, cfg and count options and their autocomplete, against the real bot."""

from __future__ import annotations

import redis
from sqlalchemy import select

from atelier.db import session_scope
from atelier.queue import advertise_worker
from atelier.schema import ModelFile, ModelKind
from atelier.settings import Settings
from tests.helpers.fake_discord import FakeDiscord
from tests.helpers.processes import Process

from .actions import all_jobs, choices, draw


def native_size(settings: Settings) -> int:
    with session_scope(settings.database_url) as session:
        return int(session.scalar(select(ModelFile.native_size).where(ModelFile.name == "tiny-test")) or 0)


def add_checkpoints(settings: Settings, names: list[str]) -> None:
    """Registry rows only (autocomplete reads names; nothing renders them)."""
    with session_scope(settings.database_url) as session:
        for name in names:
            session.add(
                ModelFile(kind=ModelKind.CHECKPOINT, name=name, file_path=f"checkpoints/{name}.safetensors",
                          sha256="0" * 64, autov2="0" * 10, base_arch="sdxl", native_size=1024)
            )  # fmt: skip
        session.commit()


def test_options_reach_the_recipe(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """model, sampler, size, cfg and count end up in the job's recipe; 1:1 is the model's native size."""
    draw(fake_discord, prompt="a cat", model="tiny-test", sampler="DPM++ 2M", size="1:1", cfg=5.5, count=2)
    (job,) = all_jobs(registered)
    recipe = job.recipe
    assert (recipe["checkpoint"], recipe["sampler"], recipe["cfg_scale"], recipe["count"]) == (
        "tiny-test", "DPM++ 2M", 5.5, 2
    )  # fmt: skip
    assert recipe["width"] == recipe["height"] == native_size(registered)


def test_size_preset_is_computed_for_the_model(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """16:9 on a 1024 model is wider than tall, in multiples of 8, within the native area."""
    add_checkpoints(registered, ["big"])
    draw(fake_discord, prompt="a cat", model="big", size="16:9")
    (job,) = all_jobs(registered)
    native = 1024
    width, height = job.recipe["width"], job.recipe["height"]
    assert width > height and width % 8 == 0 and height % 8 == 0 and width * height <= native * native


def test_unknown_model_is_answered_privately(bot: Process, fake_discord: FakeDiscord, registered: Settings) -> None:
    """A typed model that does not exist gets an ephemeral sentence naming the option, and no job."""
    sent = fake_discord.send_slash_command("draw", {"prompt": "a cat", "model": "nope"})
    answer = fake_discord.wait_for(lambda r: r.method == "POST" and r.path == sent.webhook_path)
    assert "**model**" in answer.content and "tiny-test" in answer.content
    assert all_jobs(registered) == []


def test_model_autocomplete_marks_warm_checkpoints(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """A checkpoint that a live worker holds warm is suggested first, with ●."""
    add_checkpoints(registered, ["cold-model"])
    advertise_worker(redis.Redis.from_url(registered.redis_url), "gpu-1", ["tiny-test"])
    sent = fake_discord.autocomplete("draw", {"prompt": "a cat", "model": ""}, "model")
    assert [(c["name"], c["value"]) for c in choices(fake_discord, sent)] == [
        ("● tiny-test (sd1)", "tiny-test"), ("cold-model (sdxl)", "cold-model")
    ]  # fmt: skip


def test_model_autocomplete_reaches_past_25_by_typing(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """With 60 checkpoints the list holds 25, and typing narrows it to the ones that match."""
    add_checkpoints(registered, [f"style-{n:02d}" for n in range(60)])
    everything = choices(fake_discord, fake_discord.autocomplete("draw", {"prompt": "x", "model": ""}, "model"))
    assert len(everything) == 25
    typed = fake_discord.autocomplete("draw", {"prompt": "x", "model": "style-5"}, "model")
    assert [c["value"] for c in choices(fake_discord, typed)] == [f"style-5{n}" for n in range(10)]


def test_size_autocomplete_offers_presets_for_the_chosen_model(
    bot: Process, fake_discord: FakeDiscord, registered: Settings
) -> None:
    """Size suggestions are computed from the model picked in the same command."""
    add_checkpoints(registered, ["big"])
    sent = fake_discord.autocomplete("draw", {"prompt": "x", "model": "big", "size": ""}, "size")
    found = {c["value"]: c["name"] for c in choices(fake_discord, sent)}
    assert found["1:1"] == "1:1 — 1024x1024" and found["3:2"] == "3:2 — 1248x832"
