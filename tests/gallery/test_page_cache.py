"""The public page cache on PostgreSQL: a visitor's repeated page comes from memory, and every commit
that changes what it shows (from any process, here the test's own sessions) is visible on the very
next request; members are never served a cached page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from starlette.types import Message, Receive, Scope, Send

from atelier.db import session_scope
from atelier.schema import Job, User
from atelier.services.removal import set_hidden
from atelier.settings import Settings, load_settings
from gallery import page_cache
from gallery.app import create_app
from gallery.page_cache import ChangeNotices, PageCache, listen_conninfo
from gallery.viewer import NSFW_COOKIE
from tests.gallery.factories import add_image, add_vote, log_in_as

CACHE = "x-atelier-cache"


@pytest.fixture
def database_url(postgresql_url: str) -> str:
    """Change notices exist on PostgreSQL only."""
    return postgresql_url


def cached_twice(client: TestClient, path: str) -> str:
    """Open `path` twice as a visitor: the first answer is made and kept, the second comes from memory."""
    first = client.get(path)
    second = client.get(path)
    assert (first.status_code, first.headers[CACHE]) == (200, "miss"), first.text
    assert (second.headers[CACHE], second.text) == ("hit", first.text)
    return first.text


def test_a_visitor_gets_a_repeated_page_from_memory(client: TestClient, registered: Settings) -> None:
    add_image(registered, "a red circle on a blue background")
    body = cached_twice(client, "/")
    assert "a red circle on a blue background" in body


def test_cached_answers_keep_the_security_headers(client: TestClient, registered: Settings) -> None:
    add_image(registered)
    cached_twice(client, "/")
    assert "content-security-policy" in client.get("/").headers


def test_a_new_image_is_on_the_next_feed_page(client: TestClient, registered: Settings) -> None:
    add_image(registered, "a red circle on a blue background")
    cached_twice(client, "/")
    add_image(registered, "a green triangle on a white background")
    again = client.get("/")
    assert again.headers[CACHE] == "miss"
    assert "a green triangle on a white background" in again.text


def test_a_hidden_image_leaves_its_cached_page_at_once(client: TestClient, registered: Settings) -> None:
    image = add_image(registered)
    cached_twice(client, f"/images/{image['image_id']}")
    with session_scope(registered.database_url) as session:
        set_hidden(session, image["image_id"], True)
    assert client.get(f"/images/{image['image_id']}").status_code == 404


def test_a_vote_changes_the_cached_score(client: TestClient, registered: Settings) -> None:
    image = add_image(registered)
    cached_twice(client, f"/api/images/{image['image_id']}")
    add_vote(registered, image["image_id"], "someone")
    assert client.get(f"/api/images/{image['image_id']}").json()["score"] == 1


def test_a_renamed_member_is_renamed_on_cached_pages(client: TestClient, registered: Settings) -> None:
    image = add_image(registered, owner="old-name")
    cached_twice(client, f"/images/{image['image_id']}")
    with session_scope(registered.database_url) as session:
        session.execute(update(User).where(User.id == image["owner_id"]).values(name="new-name"))
    assert "new-name" in client.get(f"/images/{image['image_id']}").text


def test_render_progress_keeps_the_cache(client: TestClient, registered: Settings) -> None:
    """A running job's lease and step are written every few steps; no public page shows them."""
    image = add_image(registered)
    cached_twice(client, "/")
    with session_scope(registered.database_url) as session:
        session.execute(update(Job).where(Job.id == image["job_id"]).values(progress_step=7, queue_position=2))
    assert client.get("/").headers[CACHE] == "hit"


def test_members_are_never_served_a_cached_page(client: TestClient, registered: Settings) -> None:
    image = add_image(registered)
    cached_twice(client, f"/images/{image['image_id']}")
    log_in_as(client, registered, "ada")
    page = client.get(f"/images/{image['image_id']}")
    assert CACHE not in page.headers
    assert 'data-role="who">ada' in page.text


def test_the_nsfw_choice_gets_its_own_pages(client: TestClient, registered: Settings) -> None:
    add_image(registered, nsfw=True)
    blurred = cached_twice(client, "/")
    client.cookies.set(NSFW_COOKIE, "1")
    shown = client.get("/")
    assert shown.headers[CACHE] == "miss"
    assert shown.text != blurred


def test_only_successful_pages_are_kept(client: TestClient, registered: Settings) -> None:
    for _ in range(2):
        missing = client.get("/images/999999")
        assert (missing.status_code, missing.headers.get(CACHE)) == (404, "miss")


def test_pages_outside_the_public_ones_pass_through(client: TestClient, registered: Settings) -> None:
    add_image(registered)
    assert CACHE not in client.get("/draw").headers
    assert CACHE not in client.get("/login").headers


@pytest.fixture
def short_lived(registered: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ATELIER_PAGE_CACHE_SECONDS", "0.3")
    with TestClient(create_app(load_settings())) as test_client:
        yield test_client


def test_pages_expire_after_the_age_limit(short_lived: TestClient, registered: Settings) -> None:
    """Relative times ("a minute ago") change with time alone."""
    add_image(registered)
    cached_twice(short_lived, "/")
    time.sleep(0.4)
    assert short_lived.get("/").headers[CACHE] == "miss"


def test_without_change_notices_pages_pass_through(
    client: TestClient, registered: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the LISTEN connection drops, nothing is served from memory until it is back."""
    monkeypatch.setattr(page_cache, "RECONNECT_SECONDS", 0.5)
    add_image(registered)
    cached_twice(client, "/")
    conninfo = listen_conninfo(registered.database_url)
    assert conninfo is not None
    with psycopg.connect(conninfo, autocommit=True) as connection:
        ended = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'SELECT 1%'"
        ).fetchall()
    assert ended == [(True,)]
    answer = client.get("/")
    assert (answer.status_code, answer.headers.get(CACHE)) == (200, None)
    time.sleep(0.6)
    assert client.get("/").headers.get(CACHE) == "miss"  # listening again, with a fresh cache


def test_only_postgresql_urls_listen() -> None:
    assert listen_conninfo("sqlite:////tmp/atelier.db") is None
    assert listen_conninfo("postgresql+psycopg://postgres@127.0.0.1:5432/test") == (
        "postgresql://postgres@127.0.0.1:5432/test"
    )


class SlowPage:
    """A stand-in for the gallery's routes behind the middleware: counts the pages it makes."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.made = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.made += 1
        await asyncio.sleep(0.2)
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": f"page {self.made}".encode()})


async def visit(cache: PageCache, path: str) -> tuple[int, bytes, bytes]:
    """One anonymous GET through the middleware; status, body and the cache header."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": [], "scheme": "http"}
    await cache(scope, receive, send)
    headers = dict(sent[0]["headers"])
    return sent[0]["status"], sent[1]["body"], headers[CACHE.encode()]


def visit_at_once(registered: Settings, page: SlowPage, visitors: int) -> list[tuple[int, bytes, bytes]]:
    async def main() -> list[tuple[int, bytes, bytes]]:
        conninfo = listen_conninfo(registered.database_url)
        assert conninfo is not None
        notices = ChangeNotices(conninfo)
        cache = PageCache(page, notices, max_age=30, max_bytes=1 << 20)
        try:
            return list(await asyncio.gather(*(visit(cache, "/") for _ in range(visitors))))
        finally:
            await notices.close()

    return asyncio.run(main())


def test_visitors_arriving_together_share_one_making_of_the_page(registered: Settings) -> None:
    page = SlowPage()
    answers = visit_at_once(registered, page, 8)
    assert page.made == 1
    assert sorted(header for _, _, header in answers) == [b"hit"] * 7 + [b"miss"]
    assert {body for _, body, _ in answers} == {b"page 1"}


def test_waiters_make_their_own_page_when_the_first_is_not_kept(registered: Settings) -> None:
    page = SlowPage(status=404)
    answers = visit_at_once(registered, page, 3)
    assert page.made == 3
    assert {(status, header) for status, _, header in answers} == {(404, b"miss")}


class CountedNotices(ChangeNotices):
    """Change notices that count their round trips to the database."""

    round_trips = 0

    async def _round_trip(self) -> int | None:
        self.round_trips += 1
        return await super()._round_trip()


def test_requests_arriving_together_share_one_round_trip(registered: Settings) -> None:
    """Twenty requests at once ask the LISTEN connection for the generation: one round trip, sent
    after they all arrived, answers them all."""

    async def main() -> tuple[set[int | None], int]:
        conninfo = listen_conninfo(registered.database_url)
        assert conninfo is not None
        notices = CountedNotices(conninfo)
        try:
            generations = await asyncio.gather(*(notices.generation_now() for _ in range(20)))
            return set(generations), notices.round_trips
        finally:
            await notices.close()

    generations, round_trips = asyncio.run(main())
    assert round_trips == 1
    assert len(generations) == 1 and None not in generations


def test_a_page_the_cache_does_not_hold_is_made_without_waiting_for_a_round_trip(registered: Settings) -> None:
    """Once notices arrive, a page the cache does not hold is made at once (its queries run after the
    request came in, as fresh as a round trip would make them); a page it holds is served only after
    the round trip that shows nothing changed."""

    async def main() -> tuple[int, bytes, bytes, int]:
        conninfo = listen_conninfo(registered.database_url)
        assert conninfo is not None
        notices = CountedNotices(conninfo)
        cache = PageCache(SlowPage(), notices, max_age=30, max_bytes=1 << 20)
        try:
            await visit(cache, "/")  # the first request connects, in a round trip
            connecting = notices.round_trips
            _, _, fresh = await visit(cache, "/images/1")
            _, _, held = await visit(cache, "/images/1")
            return connecting, fresh, held, notices.round_trips
        finally:
            await notices.close()

    assert asyncio.run(main()) == (1, b"miss", b"hit", 2)
