"""Public pages served from memory until something they show changes.

Most gallery traffic is visitors without a login opening the same feed, search and image pages (a
link shared in Discord brings many at once), and rendering one costs milliseconds of Python (the
database's part is a fraction of a millisecond). So on PostgreSQL the gallery keeps the pages it
answered such visitors with, and answers the same request from memory.

Freshness does not rest on a timer. Migration 0010 makes PostgreSQL send a notice (`NOTIFY
atelier_gallery`) after every commit that changes what these pages show: images, votes, models,
members' names and roles, finished jobs. Before a cacheable request is answered from memory (or
joins a making of its page already under way), `ChangeNotices` makes a round trip on its LISTEN
connection (one shared by the requests that arrived together), which receives every notice
committed before the request came in; any notice empties the cache. A page the cache does not hold
is made at once: its queries run after the request came in, so it is as fresh as that round trip
would make it. A page is stored only if no notice arrived while it was being rendered, so a page is
never older than the last commit a visitor could have seen. The age limit only bounds what time alone
changes: "5 minutes ago" and the top-of-day window.

Not cached: anything for a logged-in member (their votes, moderator views), any method but GET,
answers other than 200 or that set a cookie, and every path outside `CACHEABLE`. Without the LISTEN
connection (SQLite, PostgreSQL unreachable) requests pass straight through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import make_url
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gallery.login import SESSION_COOKIE
from gallery.viewer import shows_nsfw

log = logging.getLogger(__name__)

CHANNEL = "atelier_gallery"  # the channel migration 0010's triggers notify
CACHEABLE = re.compile(
    r"/(?:|feed/page|images/\d+|api/images|api/images/\d+|members/\d+|members/\d+/votes|models/[a-z]+/[^?#]+)"
)
CACHE_HEADER = b"x-atelier-cache"
RECONNECT_SECONDS = 5.0


def listen_conninfo(database_url: str) -> str | None:
    """The libpq URL of a SQLAlchemy PostgreSQL URL; None for any other database."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeNotices:
    """A LISTEN connection whose `generation` changes whenever a change notice arrives."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._connection: psycopg.AsyncConnection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry_at = 0.0
        self.generation = 0
        # Callers waiting for the next round trip (one not yet sent), and the task sending them.
        self._waiting: asyncio.Future[int | None] | None = None
        self._sender: asyncio.Task[None] | None = None

    async def generation_now(self) -> int | None:
        """The generation after a round trip on the LISTEN connection that began after this call, so
        every notice committed before this call is counted; None while there is no connection (then
        nothing is cached).

        Concurrent callers share round trips: all who arrive while one is on the wire wait for the
        next, so a busy process makes one at a time instead of one per request in a queue."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (a restarted server): its own connection and task
            self._loop, self._connection, self._waiting, self._sender = loop, None, None, None
        if self._waiting is None:
            self._waiting = loop.create_future()
        waiting = self._waiting
        if self._sender is None or self._sender.done():
            self._sender = loop.create_task(self._send_round_trips())
        return await asyncio.shield(waiting)

    @property
    def listening(self) -> bool:
        """Whether notices are arriving now (the connection is up, in this event loop)."""
        connection = self._connection
        return connection is not None and not connection.closed and self._loop is asyncio.get_running_loop()

    async def _send_round_trips(self) -> None:
        while self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            try:
                waiting.set_result(await self._round_trip())
            except Exception as error:  # not a database error (those are handled): the callers raise it
                waiting.set_exception(error)
            except BaseException:  # cancelled: the server is stopping
                waiting.cancel()
                raise

    async def _round_trip(self) -> int | None:
        try:
            connection = await self._connected()
            if connection is None:
                return None
            await connection.execute("SELECT 1")
        except (psycopg.Error, OSError) as error:
            await self._lost(error)
            return None
        return self.generation

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._loop is asyncio.get_running_loop():
            await connection.close()

    async def _connected(self) -> psycopg.AsyncConnection | None:
        """The LISTEN connection, connecting when there is none. Only the round-trip task calls
        this, one call at a time, so connecting needs no lock."""
        if self._connection is not None and not self._connection.closed:
            return self._connection
        if time.monotonic() < self._retry_at:
            return None
        connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, connect_timeout=5)
        connection.add_notify_handler(self._noticed)
        await connection.execute(f"LISTEN {CHANNEL}")
        self.generation += 1  # notices may have been missed while there was no connection
        self._connection = connection
        return connection

    def _noticed(self, _: psycopg.Notify) -> None:
        self.generation += 1

    async def _lost(self, error: Exception) -> None:
        log.warning("page cache off for %.0f s: no change notices from PostgreSQL (%s)", RECONNECT_SECONDS, error)
        self.generation += 1
        self._retry_at = time.monotonic() + RECONNECT_SECONDS
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await connection.close()


Key = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A 200 answer as it was sent, and when it stops being served."""

    expires: float
    headers: list[tuple[bytes, bytes]]
    body: bytes


class PageCache:
    """ASGI middleware: answers visitors without a login from memory (see the module docstring).

    After a change empties the cache, many visitors ask for the same page at once; the first one
    makes it and the others wait for that answer instead of each making it again."""

    def __init__(self, app: ASGIApp, notices: ChangeNotices | None, max_age: float, max_bytes: int) -> None:
        self.app = app
        self.notices = notices
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._pages: OrderedDict[Key, CachedPage] = OrderedDict()
        self._bytes = 0
        self._generation: int | None = None
        # pages being made now: who waits for them, and in which generation they were begun
        self._making: dict[Key, tuple[int, asyncio.Future[CachedPage | None]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope)
        if key is not None and self.notices and self.notices.listening and self._nothing_to_reuse(key):
            # The page is made from what the database holds now, as fresh as a round trip could make it, so
            # it need not wait for one. It is kept only if no notice arrives meanwhile.
            self._forget_if_changed(self.notices.generation)
            await self._make_and_keep(scope, receive, send, key, self.notices.generation)
            return
        generation = await self.notices.generation_now() if key is not None and self.notices else None
        if key is None or generation is None:
            await self.app(scope, receive, send)
            return
        self._forget_if_changed(generation)
        page = self._pages.get(key)
        if page is not None and page.expires > time.monotonic():
            self._pages.move_to_end(key)
            await self._replay(page, send)
            return
        making = self._making.get(key)
        if making is not None and making[0] == generation:
            # Begun after the same last change this request has seen: its answer is as fresh.
            page = await asyncio.shield(making[1])
            if page is not None:
                await self._replay(page, send)
                return
        await self._make_and_keep(scope, receive, send, key, generation)

    def _nothing_to_reuse(self, key: Key) -> bool:
        return key not in self._pages and key not in self._making

    def _forget_if_changed(self, generation: int) -> None:
        if generation != self._generation:
            self._pages.clear()
            self._bytes, self._generation = 0, generation

    @staticmethod
    async def _replay(page: CachedPage, send: Send) -> None:
        headers = [*page.headers, (CACHE_HEADER, b"hit")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page.body})

    def _key(self, scope: Scope) -> Key | None:
        """What the answer depends on, or None when it must not be cached."""
        if scope["type"] != "http" or scope["method"] != "GET" or not CACHEABLE.fullmatch(scope["path"]):
            return None
        headers = dict(scope["headers"])
        cookies = cookie_parser(headers.get(b"cookie", b"").decode("latin-1"))
        if SESSION_COOKIE in cookies:
            return None
        host = headers.get(b"host", b"")
        return (scope["path"], scope["query_string"], host, scope["scheme"], shows_nsfw(cookies))

    async def _make_and_keep(self, scope: Scope, receive: Receive, send: Send, key: Key, generation: int) -> None:
        made: asyncio.Future[CachedPage | None] = asyncio.get_running_loop().create_future()
        self._making[key] = (generation, made)
        started: Message = {}
        chunks: list[bytes] = []

        async def send_and_copy(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
                message = {**message, "headers": [*message.get("headers", []), (CACHE_HEADER, b"miss")]}
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and not made.done():
                    made.set_result(self._keep(key, generation, started, b"".join(chunks)))
            await send(message)

        try:
            await self.app(scope, receive, send_and_copy)
        finally:
            if not made.done():
                made.set_result(None)  # failed or not finished: the waiters make their own
            if self._making.get(key, (0, None))[1] is made:
                del self._making[key]

    def _keep(self, key: Key, generation: int, started: Message, body: bytes) -> CachedPage | None:
        """Store the answer if it may be reused; returns it then."""
        headers = list(started.get("headers", []))
        if (
            started.get("status") != 200
            or any(name.lower() == b"set-cookie" for name, _ in headers)
            or self.notices is None
            or self.notices.generation != generation  # something changed while this page was made
            or self._generation != generation
            or len(body) > self.max_bytes // 4
        ):
            return None
        old = self._pages.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        page = CachedPage(time.monotonic() + self.max_age, headers, body)
        self._pages[key] = page
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            _, evicted = self._pages.popitem(last=False)
            self._bytes -= len(evicted.body)
        return page
