"""The feed query on SQLite and PostgreSQL: sorts, keyset pages, visibility, search and filters."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from atelier.db import session_scope
from atelier.errors import InvalidInput
from atelier.recipe import LoraUse
from atelier.schema import Image, Job
from atelier.settings import Settings
from gallery.cursor import Cursor, decode_cursor
from gallery.feed import feed_page, feed_query, filter_conditions
from gallery.filters import FeedFilters, Sort
from gallery.viewer import ANONYMOUS, Viewer
from tests.gallery.factories import add_image, add_votes

NOW = datetime.now(UTC)
EVERYTHING = FeedFilters()
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _prompts(settings: Settings, filters: FeedFilters = EVERYTHING, **kwargs: object) -> list[str]:
    """Every prompt the feed lists for `filters`, in order, on one big page."""
    prompts, _ = _page(settings, filters, limit=500, **kwargs)
    return prompts


def _page(
    settings: Settings,
    filters: FeedFilters = EVERYTHING,
    cursor: str | None = None,
    *,
    limit: int,
    viewer: Viewer = ANONYMOUS,
) -> tuple[list[str], str | None]:
    with session_scope(settings.database_url) as session:
        page = feed_page(session, viewer, filters, decode_cursor(cursor) if cursor else None, limit=limit)
        return [card.prompt for card in page.items], page.next_cursor


def _all_pages(settings: Settings, filters: FeedFilters, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        prompts, cursor = _page(settings, filters, cursor, limit=limit)
        pages.append(prompts)
        if cursor is None:
            return pages


# --- order and pages ------------------------------------------------------------------------------


def test_newest_first_ties_broken_by_id(registered: Settings) -> None:
    """Images made at the same instant list the later-inserted (higher id) first."""
    add_image(registered, "old", created_at=NOW - timedelta(hours=1))
    add_image(registered, "twin one", created_at=NOW)
    add_image(registered, "twin two", created_at=NOW)
    assert _prompts(registered) == ["twin two", "twin one", "old"]


def test_keyset_pages_list_every_image_once(registered: Settings) -> None:
    """Walking the cursors visits each image exactly once, in order, and the last page has no cursor."""
    for minute in range(7):
        add_image(registered, f"image {minute}", created_at=NOW - timedelta(minutes=minute))
    pages = _all_pages(registered, FeedFilters(), limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [prompt for page in pages for prompt in page] == [f"image {minute}" for minute in range(7)]


def test_exact_multiple_of_page_size_ends_without_cursor(registered: Settings) -> None:
    """When the last page is full, it says so by having no next cursor (no empty page after it)."""
    for minute in range(4):
        add_image(registered, f"image {minute}", created_at=NOW - timedelta(minutes=minute))
    assert [len(page) for page in _all_pages(registered, FeedFilters(), limit=2)] == [2, 2]


def test_new_images_do_not_shift_later_pages(registered: Settings) -> None:
    """An image added while someone scrolls does not repeat or skip anything on their next page."""
    for minute in range(4):
        add_image(registered, f"image {minute}", created_at=NOW - timedelta(minutes=minute + 1))
    first, cursor = _page(registered, limit=2)
    add_image(registered, "brand new", created_at=NOW)
    second, _ = _page(registered, cursor=cursor, limit=2)
    assert first + second == [f"image {minute}" for minute in range(4)]


def test_top_sorts_by_vote_sum_then_newest(registered: Settings) -> None:
    """Top: the sum of vote values, highest first; equal sums list the newest first."""
    older = add_image(registered, "older three", created_at=NOW - timedelta(hours=3))
    add_votes(registered, older["image_id"], 1, 1, 1)
    one = add_image(registered, "one", created_at=NOW - timedelta(hours=2))
    add_votes(registered, one["image_id"], 1)
    newer = add_image(registered, "newer three", created_at=NOW - timedelta(hours=1))
    add_votes(registered, newer["image_id"], 1, 1, 1)
    add_image(registered, "no votes", created_at=NOW)
    disliked = add_image(registered, "disliked", created_at=NOW)
    add_votes(registered, disliked["image_id"], -1)
    expected = ["newer three", "older three", "one", "no votes", "disliked"]
    assert _prompts(registered, FeedFilters(sort=Sort.TOP_ALL)) == expected


def test_top_pages_walk_equal_scores(registered: Settings) -> None:
    """Keyset pages of a top sort cross runs of equal scores without repeats or gaps."""
    for index, votes in enumerate([2, 2, 2, 1, 0]):
        made = add_image(registered, f"image {index}", created_at=NOW - timedelta(minutes=index))
        if votes:
            add_votes(registered, made["image_id"], *[1] * votes)
    pages = _all_pages(registered, FeedFilters(sort=Sort.TOP_DAY), limit=2)
    assert [prompt for page in pages for prompt in page] == [f"image {index}" for index in range(5)]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (Sort.TOP_DAY, ["today"]),
        (Sort.TOP_WEEK, ["today", "three days ago"]),
        (Sort.TOP_MONTH, ["today", "three days ago", "twenty days ago"]),
        (Sort.TOP_ALL, ["today", "three days ago", "twenty days ago", "last year"]),
    ],
)
def test_top_period_is_the_images_creation(registered: Settings, sort: Sort, expected: list[str]) -> None:
    """Top of day, week, month and all time count images created within that period."""
    for days, prompt in [(0, "today"), (3, "three days ago"), (20, "twenty days ago"), (400, "last year")]:
        add_image(registered, prompt, created_at=NOW - timedelta(days=days, minutes=1))
    assert _prompts(registered, FeedFilters(sort=sort)) == expected


# --- visibility -----------------------------------------------------------------------------------


def test_hidden_images_only_for_moderators(registered: Settings) -> None:
    """A hidden image is left out for visitors; a moderator's viewer sees it."""
    add_image(registered, "shown")
    add_image(registered, "hidden one", hidden=True)
    assert _prompts(registered) == ["shown"]
    assert set(_prompts(registered, viewer=Viewer(is_moderator=True))) == {"shown", "hidden one"}


def test_nsfw_images_are_listed(registered: Settings) -> None:
    """NSFW images are in the feed (the page blurs them); only hidden ones are left out."""
    add_image(registered, "spicy", nsfw=True)
    assert _prompts(registered) == ["spicy"]


# --- prompt search --------------------------------------------------------------------------------


def test_search_needs_every_word(registered: Settings) -> None:
    """A search finds prompts holding all of its words, in any case and order."""
    add_image(registered, "a red circle on a blue background")
    add_image(registered, "a red square on a green background")
    add_image(registered, "a blue circle on a red background")
    found = _prompts(registered, FeedFilters(text="CIRCLE Red"))
    assert sorted(found) == ["a blue circle on a red background", "a red circle on a blue background"]


def test_search_ignores_the_negative_prompt(registered: Settings) -> None:
    """Words only in the negative prompt (which the infotext also holds) do not match."""
    add_image(registered, "a red circle", negative_prompt="blurry")
    add_image(registered, "a blurry photo")
    assert _prompts(registered, FeedFilters(text="blurry")) == ["a blurry photo"]


def test_search_without_words_is_invalid_input(registered: Settings) -> None:
    """A search of punctuation only says so, naming the field, instead of matching everything or nothing."""
    add_image(registered, "a red circle")
    with pytest.raises(InvalidInput) as caught:
        _prompts(registered, FeedFilters(text="!!! ???"))
    assert caught.value.field == "q"


@pytest.mark.parametrize(
    "hostile",
    [
        "red'); DROP TABLE images; --",
        "red' OR '1'='1",
        'red" OR 1=1 --',
        "red\\'; DELETE FROM votes; --",
    ],
)
def test_hostile_search_is_only_text(registered: Settings, hostile: str) -> None:
    """SQL in a search is searched for as words: tables survive and only matching prompts come back."""
    add_image(registered, "a green square")
    add_image(registered, f"a poster saying {hostile}")
    found = _prompts(registered, FeedFilters(text=hostile))
    assert found == [f"a poster saying {hostile}"]
    with session_scope(registered.database_url) as session:
        assert session.scalar(select(func.count()).select_from(Image)) == 2


@ON_POSTGRESQL
def test_postgresql_search_is_stemmed(registered: Settings) -> None:
    """On PostgreSQL the full-text search matches word forms: "circles" finds "circle"."""
    add_image(registered, "a red circle")
    add_image(registered, "a red square")
    assert _prompts(registered, FeedFilters(text="circles")) == ["a red circle"]


@ON_POSTGRESQL
def test_postgresql_stop_words_only_is_invalid_input(registered: Settings) -> None:
    """On PostgreSQL a search of only stop words ("the a") is reported rather than matching nothing."""
    with pytest.raises(InvalidInput, match="no words"):
        _prompts(registered, FeedFilters(text="the a"))


@ON_SQLITE
@pytest.mark.parametrize("wildcard", ["%", "_", "100%", "a_b"])
def test_sqlite_search_escapes_like_wildcards(registered: Settings, wildcard: str) -> None:
    """On SQLite, % and _ in a search are literal characters, not LIKE wildcards."""
    add_image(registered, "a red circle")
    add_image(registered, "contains 100% a_b")
    assert _prompts(registered, FeedFilters(text=wildcard)) == ["contains 100% a_b"]


# --- filters --------------------------------------------------------------------------------------


def test_checkpoint_filter_by_name(registered: Settings) -> None:
    """The checkpoint filter matches the model's registered name in any case; another name matches none."""
    add_image(registered, "a red circle")
    assert _prompts(registered, FeedFilters(checkpoint="TINY-test")) == ["a red circle"]
    assert _prompts(registered, FeedFilters(checkpoint="other-model")) == []


def test_lora_filter_reads_the_recipe(registered: Settings) -> None:
    """The LoRA filter finds recipes that list a LoRA of that name, in any case."""
    add_image(registered, "glowing", loras=(LoraUse("glow", 0.8), LoraUse("ink")))
    add_image(registered, "inked", loras=(LoraUse("ink"),))
    add_image(registered, "plain")
    assert _prompts(registered, FeedFilters(lora="Glow")) == ["glowing"]
    assert sorted(_prompts(registered, FeedFilters(lora="ink"))) == ["glowing", "inked"]
    assert _prompts(registered, FeedFilters(lora="gl")) == []


def test_member_filter_by_owner_name(registered: Settings) -> None:
    """The member filter lists the images of the member with that name (any case)."""
    add_image(registered, "ada's", owner="Ada")
    add_image(registered, "bob's", owner="bob")
    add_image(registered, "nobody's")
    assert _prompts(registered, FeedFilters(member="ada")) == ["ada's"]


def test_date_range_is_inclusive_by_day(registered: Settings) -> None:
    """From and To are whole days in UTC, both included."""
    for moment, prompt in [
        (datetime(2025, 1, 1, 23, 59, tzinfo=UTC), "new year's day"),
        (datetime(2025, 1, 2, 0, 0, tzinfo=UTC), "second"),
        (datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC), "last of january"),
        (datetime(2025, 2, 1, 0, 0, tzinfo=UTC), "february"),
    ]:
        add_image(registered, prompt, created_at=moment)
    filters = FeedFilters(date_from=date(2025, 1, 2), date_to=date(2025, 1, 31))
    assert _prompts(registered, filters) == ["last of january", "second"]


def test_sampler_filter_includes_old_combined_names(registered: Settings) -> None:
    """The sampler filter matches the sampler, also as stored by older recipes ("DPM++ 2M Karras")."""
    add_image(registered, "new style", sampler="DPM++ 2M", schedule_type="Karras")
    add_image(registered, "old style", sampler="DPM++ 2M Karras")
    add_image(registered, "sde", sampler="DPM++ 2M SDE")
    add_image(registered, "euler", sampler="Euler a")
    assert sorted(_prompts(registered, FeedFilters(sampler="DPM++ 2M"))) == ["new style", "old style"]


def test_size_filter_is_width_by_height(registered: Settings) -> None:
    """Size WxH matches width and height in that order."""
    add_image(registered, "wide", shape=(128, 64))
    add_image(registered, "tall", shape=(64, 128))
    assert _prompts(registered, FeedFilters(size=(128, 64))) == ["wide"]


def test_filters_combine(registered: Settings) -> None:
    """Filters narrow together (AND): only the image meeting all of them is listed."""
    wanted = add_image(registered, "a red circle", owner="ada", sampler="DDIM", shape=(128, 64))
    add_image(registered, "a red circle", owner="ada", sampler="Euler a", shape=(128, 64))
    add_image(registered, "a red circle", owner="bob", sampler="DDIM", shape=(128, 64))
    add_image(registered, "a blue square", owner="ada", sampler="DDIM", shape=(128, 64))
    filters = FeedFilters(text="red", member="ada", sampler="DDIM", size=(128, 64), sort=Sort.TOP_ALL)
    with session_scope(registered.database_url) as session:
        page = feed_page(session, ANONYMOUS, filters, limit=10)
        assert [(card.id, card.owner_name) for card in page.items] == [(wanted["image_id"], "ada")]


# --- the stored tally and the indexes --------------------------------------------------------------


def _set_score(settings: Settings, image_id: int, score: int) -> None:
    with session_scope(settings.database_url) as session:
        session.execute(update(Image).where(Image.id == image_id).values(score=score))


def test_top_sorts_read_the_stored_score(registered: Settings) -> None:
    """Top orders by `images.score` (kept by the vote service), not by summing votes per request:
    a score set without vote rows decides the order, and a top cursor carries it across pages."""
    for index, score in enumerate([5, 40, 0, 12]):
        made = add_image(registered, f"score {score}", created_at=NOW - timedelta(minutes=index))
        _set_score(registered, made["image_id"], score)
    pages = _all_pages(registered, FeedFilters(sort=Sort.TOP_ALL), limit=3)
    assert pages == [["score 40", "score 12", "score 5"], ["score 0"]]
    _, cursor = _page(registered, FeedFilters(sort=Sort.TOP_ALL), limit=1)
    assert cursor is not None and decode_cursor(cursor).score == 40


def test_feed_items_carry_the_stored_score(registered: Settings) -> None:
    """Every card shows the image's stored score, in newest order too."""
    made = add_image(registered, "liked")
    add_votes(registered, made["image_id"], 1, 1, 1)
    with session_scope(registered.database_url) as session:
        page = feed_page(session, ANONYMOUS, EVERYTHING, limit=5)
        assert [item.score for item in page.items] == [3]


def _plan(settings: Settings, filters: FeedFilters, cursor: Cursor | None = None) -> str:
    """PostgreSQL's plan for the feed query with sequential scans and sorts priced out, so it shows
    which indexes the query *can* use (a tiny table would otherwise be read whole)."""
    with session_scope(settings.database_url) as session:
        query = feed_query(session, ANONYMOUS, filters, cursor, limit=48, now=NOW)
        compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
        connection = session.connection()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).all()
        return "\n".join(row[0] for row in rows)


@ON_POSTGRESQL
@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (FeedFilters(), "ix_images_feed_new"),
        (FeedFilters(sort=Sort.TOP_WEEK), "ix_images_feed_top"),
        (FeedFilters(sort=Sort.TOP_ALL), "ix_images_feed_top"),
        (FeedFilters(text="circle"), "ix_jobs_prompt_search"),
        (FeedFilters(text="circle", sampler="DDIM"), "ix_jobs_prompt_search"),
    ],
)
def test_postgresql_feed_queries_can_use_their_indexes(registered: Settings, filters: FeedFilters, index: str) -> None:
    """The feed's orders and the prompt search (alone, or with other filters: its expression exactly
    the GIN index's) are served by the indexes migration 0009 builds."""
    add_image(registered, "a red circle", sampler="DDIM")
    assert index in _plan(registered, filters)


@ON_POSTGRESQL
def test_postgresql_sampler_filter_matches_its_index(registered: Settings) -> None:
    """The sampler filter's expression is the one `ix_jobs_sampler` is built on."""
    add_image(registered, "a red circle", sampler="DDIM")
    with session_scope(registered.database_url) as session:
        query = select(Job.id).where(*filter_conditions(session, FeedFilters(sampler="DDIM")))
        compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
        connection = session.connection()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params))
    assert "ix_jobs_sampler" in plan


@ON_POSTGRESQL
def test_postgresql_deep_pages_seek_the_index(registered: Settings) -> None:
    """A cursor becomes an index condition (a seek), not a filter over rows read and skipped."""
    cursor = Cursor(Sort.TOP_ALL.value, 3, NOW, 10)
    plan = _plan(registered, FeedFilters(sort=Sort.TOP_ALL), cursor)
    seek = r"ix_images_feed_top on images[^\n]*\n\s+Index Cond: \(\(hidden = false\) AND \(ROW\((images\.)?score, "
    assert re.search(seek + r"(images\.)?created_at, (images\.)?id\) < ROW\(", plan), plan
