"""Shared fixtures: real PostgreSQL, real Redis, migrated databases, a model store, worker processes.

Services are the machine's own (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379); each test
gets a fresh SQLite file or a fresh PostgreSQL database and a flushed Redis database, so tests
never see each other's jobs.
"""

from __future__ import annotations

import os
import uuid

# Tiny test models render fastest on one thread, and OpenMP threads that outnumber free cores spin
# and slow everything (pytest, worker processes and the browser share 2 cores). Set before torch loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from atelier import queue as atelier_queue
from atelier.db import migrate
from atelier.settings import Settings, get_settings, load_settings
from tests.helpers.processes import Process, running_worker

PG_ADMIN = os.environ.get("ATELIER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_REDIS = os.environ.get("ATELIER_TEST_REDIS", "redis://127.0.0.1:6379/15")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'atelier.db'}"
    migrate(url)
    return url


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    name = f"atelier_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    migrate(url)
    yield url
    from atelier.db import engine_for

    engine_for(url).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite (embedded default) and once on PostgreSQL (production)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def redis_url() -> str:
    client = redis.Redis.from_url(TEST_REDIS)
    client.flushdb()
    client.close()
    return TEST_REDIS


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model store holding a tiny SD pipeline built from configs (random weights, renders in ms)."""
    from tests.helpers.tiny_model import build_tiny_store

    return build_tiny_store(tmp_path_factory.mktemp("models"))


@pytest.fixture
def settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, redis_url: str, models_dir: Path
) -> Iterator[Settings]:
    """Environment and settings for one test: its own database, Redis db, data dir and the tiny store."""
    env = {
        "ATELIER_DATABASE_URL": database_url,
        "ATELIER_REDIS_URL": redis_url,
        "ATELIER_DATA_DIR": str(tmp_path / "data"),
        "ATELIER_MODELS_DIR": str(models_dir),
        "ATELIER_SECRET_KEY": "test-secret-key",
        "ATELIER_DEFAULT_CHECKPOINT": "tiny-test",
        "HF_HUB_OFFLINE": "1",
        # Worker processes share the 2 cores with pytest and other processes: one thread each.
        "ATELIER_TORCH_THREADS": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    atelier_queue.forget_apps()
    yield load_settings()
    get_settings.cache_clear()
    atelier_queue.forget_apps()


@pytest.fixture
def registered(settings: Settings) -> Settings:
    """Settings whose database knows the store's checkpoints."""
    from atelier.db import session_scope
    from atelier.services.models import scan

    with session_scope(settings.database_url) as session:
        scan(session, settings.paths.models_dir, settings.render.default_checkpoint)
    return settings


@pytest.fixture
def worker(registered: Settings, tmp_path: Path) -> Iterator[Process]:
    """A real Celery worker process (`python -m workers`) serving this test's database and Redis."""
    with running_worker(tmp_path / "worker.log") as process:
        yield process
