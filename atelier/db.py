"""Engine and session factory, and migrations run programmatically on start.

Every process calls `migrate()` before serving so a fresh data dir or database needs no manual
step; Alembic's own lock-free upgrade is idempotent, so concurrent starts are harmless on SQLite
(one writer at a time) and PostgreSQL (transactional DDL).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# PostgreSQL connections a process keeps open. A gallery process holds one per request in flight in
# its threads (gallery.threads: the pages' few, plus up to 8 slow tasks) and per event stream's read;
# with SQLAlchemy's default of 5 kept, a busy moment opened a new server process per request past the
# fifth and closed it again (at 20 concurrent clients, one request in eight paid for a fresh backend).
# Connections are opened only when needed, so a process that never serves that many never holds that many.
POOL_SIZE = 20
POOL_OVERFLOW = 20


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine per URL per process; SQLite gets WAL and a busy timeout for concurrent processes."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


class ReadOnlySessionWrote(RuntimeError):
    """A session made for reading was asked to write: a programming error, never user input."""


def read_session_factory(url: str) -> sessionmaker[Session]:
    """Sessions for requests that only read: no transaction around their queries.

    A transaction costs a request two extra round trips (BEGIN, then ROLLBACK when the session
    closes), and PostgreSQL's default isolation (read committed) gives every statement its own
    snapshot anyway, so reads see the same rows without one. Closing such a session does no I/O.
    Any write through one raises `ReadOnlySessionWrote` instead of committing on its own."""
    factory = sessionmaker(engine_for(url).execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)

    @event.listens_for(factory, "before_flush")
    def _refuse_flush(*_: object) -> None:
        raise ReadOnlySessionWrote("a read-only session was asked to save changes")

    @event.listens_for(factory, "do_orm_execute")
    def _refuse_dml(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            raise ReadOnlySessionWrote("a read-only session was asked to change rows")

    return factory


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    from alembic import command

    engine_for(url)  # creates the SQLite parent dir
    command.upgrade(alembic_config(url), "head")
