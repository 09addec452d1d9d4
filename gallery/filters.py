"""The feed's query string: sort, search text and filters, read into typed values.

The URL is the whole state of a search, so a link can be shared and the form refilled from it.
Every field is checked here and a bad one is reported by name (all of them at once, so the form
can mark each); nothing is clamped or silently dropped.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from atelier.errors import InvalidInput
from atelier.samplers import BY_NAME
from gallery.cursor import Cursor, decode_cursor

MAX_TEXT = 200
FIELDS = ("q", "checkpoint", "lora", "member", "from", "to", "sampler", "size", "sort")
_SIZE = re.compile(r"(\d{1,5})\s*[x\u00d7]\s*(\d{1,5})", re.IGNORECASE)  # x or the multiplication sign
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
T = TypeVar("T")


class Sort(enum.StrEnum):
    NEW = "new"
    TOP_DAY = "top-day"
    TOP_WEEK = "top-week"
    TOP_MONTH = "top-month"
    TOP_ALL = "top-all"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_top(self) -> bool:
        return self is not Sort.NEW

    @property
    def period(self) -> timedelta | None:
        """How far back a top sort looks at images' creation times (None: all time)."""
        return _PERIODS.get(self)


_LABELS = {
    Sort.NEW: "Newest",
    Sort.TOP_DAY: "Top today",
    Sort.TOP_WEEK: "Top this week",
    Sort.TOP_MONTH: "Top this month",
    Sort.TOP_ALL: "Top of all time",
}
_PERIODS = {Sort.TOP_DAY: timedelta(days=1), Sort.TOP_WEEK: timedelta(days=7), Sort.TOP_MONTH: timedelta(days=30)}


@dataclass(frozen=True)
class FeedFilters:
    """What the feed shows. Empty strings and None mean "any"."""

    sort: Sort = Sort.NEW
    text: str = ""
    checkpoint: str = ""
    lora: str = ""
    member: str = ""
    date_from: date | None = None
    date_to: date | None = None
    sampler: str = ""
    size: tuple[int, int] | None = None

    @property
    def narrowed(self) -> bool:
        """True when anything beyond the sort order limits the feed."""
        return self != FeedFilters(sort=self.sort)


@dataclass
class FeedQuery:
    """A parsed query string: the filters, the cursor, the raw values for the form, and errors."""

    filters: FeedFilters
    cursor: Cursor | None
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def _text(name: str, raw: str, limit: int = MAX_TEXT) -> str:
    value = " ".join(raw.split())
    if len(value) > limit:
        raise InvalidInput(name, f"is {len(value)} characters long; the limit is {limit}")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise InvalidInput(name, "contains a control character")
    return value


def _date(name: str, raw: str) -> date | None:
    if not raw.strip():
        return None
    try:
        if not _DATE.fullmatch(raw.strip()):
            raise ValueError
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(name, f"{raw[:40]!r} is not a date like 2024-05-31") from None


def _size(raw: str) -> tuple[int, int] | None:
    if not raw.strip():
        return None
    match = _SIZE.fullmatch(raw.strip())
    if match is None or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise InvalidInput("size", f"{raw[:40]!r} is not a size like 512x768 (width x height in pixels)")
    return int(match.group(1)), int(match.group(2))


def _sampler(raw: str) -> str:
    if not raw.strip():
        return ""
    by_lower = {name.lower(): name for name in BY_NAME}
    name = by_lower.get(" ".join(raw.split()).lower())
    if name is None:
        raise InvalidInput("sampler", f"unknown sampler {raw[:40]!r}; choose one of {', '.join(BY_NAME)}")
    return name


def _sort(raw: str) -> Sort:
    try:
        return Sort(raw.strip() or Sort.NEW.value)
    except ValueError:
        choices = ", ".join(sort.value for sort in Sort)
        raise InvalidInput("sort", f"unknown order {raw[:40]!r}; choose one of {choices}") from None


def _read(errors: dict[str, str], read: Callable[[], T], default: T) -> T:
    try:
        return read()
    except InvalidInput as error:
        errors[error.field] = error.reason
        return default


def parse_feed_query(params: Mapping[str, str]) -> FeedQuery:
    """Read the feed's query parameters; each bad one lands in `errors` under its own name."""
    values = {name: params.get(name, "") for name in FIELDS}
    errors: dict[str, str] = {}
    filters = FeedFilters(
        sort=_read(errors, lambda: _sort(values["sort"]), Sort.NEW),
        text=_read(errors, lambda: _text("q", values["q"]), ""),
        checkpoint=_read(errors, lambda: _text("checkpoint", values["checkpoint"]), ""),
        lora=_read(errors, lambda: _text("lora", values["lora"]), ""),
        member=_read(errors, lambda: _text("member", values["member"], 100), ""),
        date_from=_read(errors, lambda: _date("from", values["from"]), None),
        date_to=_read(errors, lambda: _date("to", values["to"]), None),
        sampler=_read(errors, lambda: _sampler(values["sampler"]), ""),
        size=_read(errors, lambda: _size(values["size"]), None),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors["to"] = f"{filters.date_to.isoformat()} is before the start date {filters.date_from.isoformat()}"
    cursor = _cursor(params.get("cursor", ""), filters.sort, errors)
    return FeedQuery(filters=filters, cursor=cursor, values=values, errors=errors)


def _cursor(raw: str, sort: Sort, errors: dict[str, str]) -> Cursor | None:
    if not raw or errors:
        return None
    try:
        cursor = decode_cursor(raw)
    except InvalidInput as error:
        errors[error.field] = error.reason
        return None
    if cursor.sort != sort.value or (cursor.score is None) == sort.is_top:
        errors["cursor"] = "belongs to another sort order; start again from the first page"
        return None
    return cursor


def feed_params(filters: FeedFilters, **changes: str) -> dict[str, str]:
    """The query parameters that reproduce `filters` (defaults left out), with `changes` applied."""
    params = {
        "q": filters.text,
        "checkpoint": filters.checkpoint,
        "lora": filters.lora,
        "member": filters.member,
        "from": filters.date_from.isoformat() if filters.date_from else "",
        "to": filters.date_to.isoformat() if filters.date_to else "",
        "sampler": filters.sampler,
        "size": f"{filters.size[0]}x{filters.size[1]}" if filters.size else "",
        "sort": "" if filters.sort is Sort.NEW else filters.sort.value,
    }
    params.update(changes)
    if params["sort"] == Sort.NEW.value:
        params["sort"] = ""  # the default order stays out of URLs, so each search has one address
    return {name: value for name, value in params.items() if value}
