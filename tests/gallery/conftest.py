"""Gallery fixtures: a TestClient on a migrated database whose store's checkpoint is registered."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from atelier.settings import Settings
from gallery.app import create_app


@pytest.fixture
def client(registered: Settings) -> Iterator[TestClient]:
    """The gallery app, started (lifespan run) against the test's database and Redis."""
    with TestClient(create_app(registered)) as test_client:
        yield test_client
