"""The feed's query string read into filters: defaults, each field, and a named error for each bad one."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from gallery.cursor import Cursor, encode_cursor
from gallery.filters import FeedFilters, Sort, feed_params, parse_feed_query


def test_empty_query_is_newest_unfiltered() -> None:
    """No parameters: newest first, nothing narrowed, no errors."""
    query = parse_feed_query({})
    assert query.filters == FeedFilters()
    assert not query.filters.narrowed
    assert query.errors == {} and query.cursor is None


def test_every_filter_is_read() -> None:
    """Each parameter lands in its typed filter (text normalised, sampler and size canonical)."""
    query = parse_feed_query(
        {
            "q": "  red   circle ",
            "checkpoint": "tiny-test",
            "lora": "glow",
            "member": "ada",
            "from": "2026-01-02",
            "to": "2026-01-31",
            "sampler": "dpm++ 2m",
            "size": "512X768",
            "sort": "top-week",
        }
    )
    assert query.errors == {}
    assert query.filters == FeedFilters(
        sort=Sort.TOP_WEEK,
        text="red circle",
        checkpoint="tiny-test",
        lora="glow",
        member="ada",
        date_from=date(2026, 1, 2),
        date_to=date(2026, 1, 31),
        sampler="DPM++ 2M",
        size=(512, 768),
    )


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"sort": "best"}, "sort", "unknown order"),
        ({"size": "big"}, "size", "like 512x768"),
        ({"size": "0x512"}, "size", "like 512x768"),
        ({"from": "yesterday"}, "from", "not a date"),
        ({"to": "2026-02-30"}, "to", "not a date"),
        ({"from": "2026-03-01", "to": "2026-02-01"}, "to", "before the start date"),
        ({"sampler": "Warp drive"}, "sampler", "unknown sampler"),
        ({"q": "x" * 201}, "q", "the limit is 200"),
        ({"member": "m" * 101}, "member", "the limit is 100"),
        ({"q": "red\x00circle"}, "q", "control character"),
        ({"cursor": "garbage!"}, "cursor", "not a page link"),
    ],
)
def test_bad_value_is_named(params: dict[str, str], field: str, words: str) -> None:
    """A bad value is reported under its own parameter's name, with a message that says why."""
    errors = parse_feed_query(params).errors
    assert field in errors
    assert words in errors[field]


def test_all_bad_values_are_reported_together() -> None:
    """Several bad fields give several messages, so the form can mark each."""
    errors = parse_feed_query({"size": "big", "from": "soon", "sampler": "?"}).errors
    assert set(errors) == {"size", "from", "sampler"}


def test_cursor_of_another_sort_is_refused() -> None:
    """A "newest" cursor used with a top sort is an error, not a wrong page."""
    token = encode_cursor(Cursor("new", None, datetime(2026, 1, 1, tzinfo=UTC), 5))
    query = parse_feed_query({"cursor": token, "sort": "top-day"})
    assert "another sort order" in query.errors["cursor"]


def test_cursor_of_the_same_sort_is_used() -> None:
    """A cursor written for this sort is decoded for the query."""
    cursor = Cursor("top-day", 3, datetime(2026, 1, 1, tzinfo=UTC), 5)
    query = parse_feed_query({"cursor": encode_cursor(cursor), "sort": "top-day"})
    assert query.errors == {} and query.cursor == cursor


def test_params_round_trip() -> None:
    """`feed_params` writes back exactly what `parse_feed_query` reads, defaults left out."""
    params = {"q": "red", "size": "64x128", "from": "2026-01-01", "sort": "top-all", "sampler": "DDIM"}
    filters = parse_feed_query(params).filters
    assert feed_params(filters) == params
    assert parse_feed_query(feed_params(filters)).filters == filters
    assert feed_params(FeedFilters()) == {}
