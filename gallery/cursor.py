"""Feed cursors: where the next page starts, as an opaque token in the URL.

Keyset pagination instead of OFFSET: page 1000 costs what page 1 costs, because the database seeks
to "after this (score, created_at, id)" instead of counting and skipping rows, and an image added
while someone scrolls does not shift every later page by one. The token is base64 of a small JSON
list so that clients treat it as opaque; it is not signed because nothing in it is a secret or a
permission: a forged cursor only moves where a visible listing starts, and every value in it is
type-checked here and reaches SQL as a bound parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from atelier.errors import InvalidInput

MAX_CURSOR_CHARS = 200
MAX_ID = 2**31 - 1
MAX_SCORE = 2**62
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Cursor:
    """The sort key of the last image shown: score (top sorts only), creation time and id."""

    sort: str
    score: int | None
    created_at: datetime
    image_id: int


def _micros(moment: datetime) -> int:
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return (aware - _EPOCH) // timedelta(microseconds=1)


def encode_cursor(cursor: Cursor) -> str:
    payload = [cursor.sort, cursor.score, _micros(cursor.created_at), cursor.image_id]
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad() -> InvalidInput:
    return InvalidInput("cursor", "is not a page link of this feed; start again from the first page")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decode_cursor(raw: str) -> Cursor:
    """The cursor in a URL, or `InvalidInput` naming the cursor (never a 500 on a mangled link)."""
    if len(raw) > MAX_CURSOR_CHARS or not raw.isascii():
        raise _bad()
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        raise _bad() from None
    if not (isinstance(data, list) and len(data) == 4):
        raise _bad()
    sort, score, micros, image_id = data
    if not isinstance(sort, str) or not (score is None or (_is_int(score) and abs(score) <= MAX_SCORE)):
        raise _bad()
    if not (_is_int(micros) and _is_int(image_id) and 0 < image_id <= MAX_ID):
        raise _bad()
    try:
        created_at = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise _bad() from None
    return Cursor(sort=sort, score=score, created_at=created_at, image_id=image_id)
