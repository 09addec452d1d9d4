"""The engine's connection pool on PostgreSQL."""

from __future__ import annotations

from atelier.db import POOL_SIZE, engine_for


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
