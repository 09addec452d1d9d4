"""The template filters that pages share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gallery.templating import ago, duration, templates

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3, minutes=59), "3 h ago"),
        (timedelta(days=2), "2 d ago"),
        (timedelta(days=45), "2026-03-17"),
    ],
)
def test_ago(delta: timedelta, text: str) -> None:
    """Relative times read naturally and fall back to a date after a month."""
    assert ago(NOW - delta, now=NOW) == text


def test_ago_accepts_naive_utc() -> None:
    """SQLite's naive datetimes are read as UTC."""
    assert ago((NOW - timedelta(minutes=2)).replace(tzinfo=None), now=NOW) == "2 min ago"


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "any moment"), (42.4, "about 42 s"), (600, "about 10 min")])
def test_duration(seconds: float, text: str) -> None:
    """ETAs are rounded the way people say them."""
    assert duration(seconds) == text


def test_autoescape_is_on() -> None:
    """Templates escape variables even in a template whose name does not end in .html."""
    assert templates.env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
