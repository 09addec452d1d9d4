"""A session on a fresh migrated SQLite database, for service tests that need no PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from atelier.db import session_factory


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    with session_factory(sqlite_url)() as opened:
        yield opened
