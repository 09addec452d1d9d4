"""Feed cursors: opaque tokens that round-trip the sort key and refuse anything mangled."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from atelier.errors import InvalidInput
from gallery.cursor import Cursor, decode_cursor, encode_cursor


def _token(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def test_cursor_round_trips_to_the_microsecond() -> None:
    """A cursor decodes to the same sort, score, time (to the microsecond) and id."""
    cursor = Cursor("top-week", 42, datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC), 99)
    assert decode_cursor(encode_cursor(cursor)) == cursor


def test_cursor_treats_naive_times_as_utc() -> None:
    """SQLite hands back naive times; the cursor reads them as UTC, as they were stored."""
    naive = Cursor("new", None, datetime(2026, 1, 2, 3, 4, 5), 7)
    assert decode_cursor(encode_cursor(naive)).created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_cursor_is_url_safe() -> None:
    """The token needs no escaping in a query string."""
    token = encode_cursor(Cursor("top-all", -3, datetime(2026, 1, 1, tzinfo=UTC), 2**31 - 1))
    assert token.replace("-", "").replace("_", "").isalnum()


@pytest.mark.parametrize(
    "raw",
    [
        "not base64 at all!",
        _token(b"{not json"),
        _token(b'{"sort": "new"}'),
        _token(b'["new", null, 1, 2, 3]'),
        _token(b'["new", null, "1", 2]'),
        _token(b'["new", null, 1, 0]'),
        _token(b'["new", null, 1, 99999999999]'),
        _token(b'["new", true, 1, 2]'),
        _token(b'["new", null, 1e300, 2]'),
        _token(b'["new", null, 99999999999999999999999, 2]'),
        _token(b'["new", null, 1, 2]') + "é",
        "A" * 500,
    ],
)
def test_mangled_cursor_is_invalid_input(raw: str) -> None:
    """Any token that is not one this feed wrote is `InvalidInput` naming the cursor."""
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(raw)
    assert caught.value.field == "cursor"
