"""Chaos tests run the real worker against a Redis or PostgreSQL of their own, which they break."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from atelier import queue as atelier_queue
from atelier.settings import Settings, get_settings, load_settings
from tests.helpers.private_services import PrivateRedis


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """The test's settings with some environment changed, for this process and the workers it starts."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    atelier_queue.forget_apps()
    return load_settings()
