"""PostgreSQL restarts while jobs render: the worker and the gallery carry on without anyone's help."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from atelier.db import migrate, session_factory, session_scope
from atelier.schema import Job, JobSource, JobState
from atelier.services.jobs import submit
from atelier.services.models import scan
from atelier.settings import Settings
from gallery.app import create_app
from tests.chaos.conftest import settings_with
from tests.helpers.private_services import PrivatePostgres
from tests.helpers.processes import running_worker

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PrivatePostgres.available(), reason="needs PostgreSQL's server binaries"),
]


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_worker_and_gallery_recover_from_a_database_restart(
    settings: Settings, private_postgres: PrivatePostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = settings_with(
        monkeypatch, ATELIER_DATABASE_URL=private_postgres.url, ATELIER_LEASE_SECONDS="5",
        ATELIER_SWEEP_INTERVAL_SECONDS="1",
    )  # fmt: skip
    migrate(chosen.database_url)
    with session_scope(chosen.database_url) as session:
        scan(session, chosen.paths.models_dir, chosen.render.default_checkpoint)
    gallery = TestClient(create_app(chosen))
    with running_worker(tmp_path / "worker.log"):
        with session_factory(chosen.database_url)() as session:
            data = {"prompt": "a red circle", "steps": 40, "count": 2, "width": 64, "height": 64}
            ids = [submit(session, chosen, {**data, "seed": n}, source=JobSource.CLI).id for n in range(8)]
        time.sleep(1.0)  # the first renders are under way
        private_postgres.restart()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                with session_factory(chosen.database_url)() as session:
                    states = list(session.scalars(select(Job.state).where(Job.id.in_(ids))))
            except Exception:  # the pool may hand out one dead connection before pre-ping notices
                states = []
            if states and set(states) == {JobState.DONE}:
                break
            time.sleep(1)
        assert gallery.get(f"/jobs/{ids[0]}").status_code == 200
        assert gallery.get("/").status_code == 200
    with session_factory(chosen.database_url)() as session:
        assert session.scalar(select(func.count()).where(Job.id.in_(ids), Job.state == JobState.DONE)) == len(ids)
