"""Fixtures for the bot: a fake Discord, and the real `python -m bot` process pointed at it.

The bot runs as a subprocess with the `registered` fixture's environment (its own database,
Redis db and data dir), so each test sees the process exactly as deployed, and a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from atelier.settings import Settings
from tests.helpers.fake_discord import FakeDiscord
from tests.helpers.processes import Process

from .actions import StartBot


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def start_bot(registered: Settings, fake_discord: FakeDiscord, tmp_path: Path) -> Iterator[StartBot]:
    """Start `python -m bot` (extra environment as keywords) and wait until it is connected."""
    started: list[Process] = []

    def start(**env: str) -> Process:
        process = Process(
            ["-m", "bot"],
            tmp_path / f"bot-{len(started) + 1}.log",
            {**fake_discord.env(), "ATELIER_BOT_RECHECK_SECONDS": "0.5", **env},
        )
        started.append(process)
        try:
            fake_discord.wait_until_identified(len(started), timeout=90, alive=lambda: process.popen.poll() is None)
        except (TimeoutError, RuntimeError) as exc:
            raise AssertionError(f"the bot did not connect: {exc}\n{process.log()[-4000:]}") from None
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def bot(start_bot: StartBot) -> Process:
    return start_bot()
