"""Engines and sessions: the connection pool on PostgreSQL, and sessions for requests that only read."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, text, update

from atelier.db import POOL_SIZE, ReadOnlySessionWrote, engine_for, read_session_factory, session_scope
from atelier.schema import BannedTerm


def test_a_burst_of_concurrent_requests_reuses_the_last_bursts_connections(postgresql_url: str) -> None:
    """As many connections at once as the pool keeps, twice: the second burst gets the first's server
    processes back instead of PostgreSQL starting new ones (a fork and a login per request)."""
    engine = engine_for(postgresql_url)

    def backend_pids() -> set[int]:
        connections = [engine.connect() for _ in range(POOL_SIZE)]
        pids = {int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()) for connection in connections}
        for connection in connections:
            connection.close()
        return pids

    first = backend_pids()
    assert len(first) == POOL_SIZE
    assert backend_pids() == first


def test_a_read_session_runs_each_query_on_its_own(postgresql_url: str) -> None:
    """No transaction around a read-only request's queries: each statement has its own start time
    (inside a transaction, `now()` would be the same for both)."""
    with read_session_factory(postgresql_url)() as session:
        first = session.execute(text("SELECT now()")).scalar_one()
        time.sleep(0.01)
        second = session.execute(text("SELECT now()")).scalar_one()
    assert second > first


def test_a_read_session_refuses_to_save_an_object(database_url: str) -> None:
    with read_session_factory(database_url)() as session:
        session.add(BannedTerm(term="forbidden", reason="a test"))
        with pytest.raises(ReadOnlySessionWrote):
            session.flush()
    with session_scope(database_url) as session:
        assert session.scalars(select(BannedTerm)).all() == []


def test_a_read_session_refuses_an_update_statement(database_url: str) -> None:
    with session_scope(database_url) as session:
        session.add(BannedTerm(term="forbidden", reason="a test"))
    with read_session_factory(database_url)() as session, pytest.raises(ReadOnlySessionWrote):
        session.execute(update(BannedTerm).values(reason="changed"))
    with session_scope(database_url) as session:
        assert session.scalars(select(BannedTerm.reason)).all() == ["a test"]
