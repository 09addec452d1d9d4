"""Settings: the embedded default, and refusal of placeholder secrets in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from atelier.settings import load_settings


def test_embedded_default_uses_sqlite_and_a_socket_under_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """With nothing set: SQLite at data/atelier.db and Redis on data/redis.sock."""
    for key in ("ATELIER_DATABASE_URL", "ATELIER_REDIS_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ATELIER_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.embedded
    assert settings.database_url == f"sqlite:///{tmp_path / 'atelier.db'}"
    assert settings.redis_url == f"unix://{tmp_path / 'redis.sock'}"


def test_production_refuses_the_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """An external database with the placeholder secret key does not start."""
    monkeypatch.setenv("ATELIER_DATABASE_URL", "postgresql+psycopg://db/atelier")
    monkeypatch.delenv("ATELIER_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="ATELIER_SECRET_KEY"):
        load_settings()
