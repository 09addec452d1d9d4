"""The feed query: visible images, filtered, in newest or top order, one keyset page at a time.

"Top" is the image's stored tally (`Image.score`, the sum of its votes' values, kept by
`atelier.services.votes`) among images created within the period (a day, week, month, or all time),
ties broken by the newest. Pages continue after the cursor's sort key with a row comparison, never
OFFSET (see `gallery.cursor`), and each order has an index that starts with the visibility flag and
holds the whole key (`ix_images_feed_new`: created_at, id; `ix_images_feed_top`: score, created_at,
id), so page 1000 is one index seek like page 1; nothing sums votes per request. A top page's cursor
holds the score it saw, so a vote cast while someone scrolls can move an image across it (seen twice
or not at all): the usual price of paging a live ranking without a snapshot.

Prompt search differs by database. PostgreSQL uses its full-text search (stemmed, so "circles"
finds "circle"), over the expression `prompt_document()`, which the GIN index `ix_jobs_prompt_search`
is built on (the same SQL, with no bound parameters in it, or the planner cannot use the index).
SQLite has no such thing built in, so there every word must appear in the prompt, by
case-insensitive LIKE with `%` and `_` escaped. Both search the recipe's prompt, not the infotext,
because the infotext also holds the negative prompt and the settings: searching "blurry" must not
find every image whose negative prompt says "blurry".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    exists,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from atelier.errors import InvalidInput
from atelier.samplers import EXPONENTIAL, KARRAS, SGM_UNIFORM
from atelier.schema import Image, Job, ModelFile, ModelKind, User
from gallery.cursor import Cursor, encode_cursor
from gallery.filters import FeedFilters
from gallery.queries import visible_to
from gallery.viewer import Viewer

# A constant, not a bound parameter: an expression index must match the query's expression exactly.
TS_CONFIG: ColumnElement[Any] = literal_column("'english'::regconfig")
_PUNCTUATION = ",.;:!?()[]{}<>\"'|"
# From this many matching jobs on, a search walks the order's index instead of sorting its matches.
SEARCH_WALK_MATCHES = 500


@dataclass(frozen=True, slots=True)
class Card:
    """What a feed card (and the JSON feed's summary) shows of one image, read as plain columns.

    The feed asks the database for exactly these values, the prompt and checkpoint pulled out of the
    recipe's JSON by SQL: building ORM images with their jobs and owners took three times as long
    as the query itself (bench/gallery_scale.py)."""

    id: int
    job_id: int
    prompt: str
    checkpoint: str
    seed: int
    width: int
    height: int
    nsfw: bool
    hidden: bool
    created_at: datetime
    score: int
    owner_id: int | None
    owner_name: str | None
    file_path: str
    thumbnail_path: str

    @classmethod
    def of(cls, image: Image) -> Card:
        """The card of an image already loaded (with its job), e.g. for the image page's API answer."""
        job = image.job
        return cls(
            id=image.id,
            job_id=image.job_id,
            prompt=str(job.recipe.get("prompt", "")),
            checkpoint=str(job.recipe.get("checkpoint", "")),
            seed=image.seed,
            width=image.width,
            height=image.height,
            nsfw=image.nsfw,
            hidden=image.hidden,
            created_at=image.created_at,
            score=image.score,
            owner_id=job.owner.id if job.owner else None,
            owner_name=job.owner.name if job.owner else None,
            file_path=image.file_path,
            thumbnail_path=image.thumbnail_path,
        )


def _card_columns() -> tuple[ColumnElement[Any], ...]:
    """The columns of `Card`, in its field order."""
    return (
        Image.id,
        Image.job_id,
        func.coalesce(Job.recipe["prompt"].as_string(), ""),
        func.coalesce(Job.recipe["checkpoint"].as_string(), ""),
        Image.seed,
        Image.width,
        Image.height,
        Image.nsfw,
        Image.hidden,
        Image.created_at,
        Image.score,
        User.id,
        User.name,
        Image.file_path,
        Image.thumbnail_path,
    )


@dataclass(frozen=True)
class FeedPage:
    items: list[Card]
    next_cursor: str | None


def prompt_document() -> ColumnElement[str]:
    """PostgreSQL's text-search document of a job's prompt (an index on jobs may use this expression)."""
    prompt = Job.recipe.op("->>", return_type=Text)(literal_column("'prompt'"))
    return func.to_tsvector(TS_CONFIG, func.coalesce(prompt, literal_column("''")))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _search_words(text: str) -> list[str]:
    """The words of a search for the LIKE fallback: split on spaces, outer punctuation dropped."""
    words = (word.strip(_PUNCTUATION) for word in text.split())
    return list(dict.fromkeys(word for word in words if word))


def _text_condition(session: Session, filters: FeedFilters) -> ColumnElement[bool]:
    no_words = InvalidInput("q", "has no words to search for (very common words such as 'the' are ignored)")
    if _dialect(session) == "postgresql":
        return _full_text_condition(session, filters, no_words)
    words = _search_words(filters.text)
    if not words:
        raise no_words
    prompt = Job.recipe["prompt"].as_string()
    return and_(*(prompt.icontains(word, autoescape=True) for word in words))


def _full_text_condition(session: Session, filters: FeedFilters, no_words: InvalidInput) -> ColumnElement[bool]:
    """Jobs whose prompt matches, found through the GIN index `ix_jobs_prompt_search`.

    With another filter on jobs or images, a plain `@@` condition: the planner combines the indexes
    (a BitmapAnd with the sampler's and the checkpoint's, 2 ms on 100k images). Alone, it must not
    walk the feed computing each prompt's tsvector (PostgreSQL prices to_tsvector far below its real
    cost, about 17 us a prompt: 34 ms for one page of a word in 2.5% of the images), so the matches
    are found first. How they meet the page depends on how many there are, counted up to
    `SEARCH_WALK_MATCHES` in the round trip that checks for words: few, and the planner joins their
    images and sorts them (a few hundred rows); many, and the order's index is walked with each
    image's job looked up in the hashed set of matches (`IS TRUE` keeps the planner from making the
    set a join that sorts every match: 68 ms for a word in 13% of the images)."""
    query = func.plainto_tsquery(TS_CONFIG, filters.text)
    matching = prompt_document().bool_op("@@")(query)
    alone = not any((filters.checkpoint, filters.lora, filters.member, filters.sampler, filters.size))
    if not alone:
        if not session.scalar(select(func.numnode(query))):
            raise no_words
        return matching
    sample = select(literal(1)).select_from(Job).where(matching).limit(SEARCH_WALK_MATCHES).subquery()
    counted = select(func.count()).select_from(sample).scalar_subquery()
    words, matches = session.execute(select(func.numnode(query), counted)).one()
    if not words:
        raise no_words
    matched = select(Job.id).where(matching).cte("matched").prefix_with("MATERIALIZED")
    among = Image.job_id.in_(select(matched.c.id))
    return among if matches < SEARCH_WALK_MATCHES else among.is_(True)


def _lora_condition(session: Session, name: str) -> ColumnElement[bool]:
    """The job's recipe lists a LoRA of this name (any case), read from the JSON array."""
    lora_name: ColumnElement[str]
    if _dialect(session) == "postgresql":
        elements = func.json_array_elements(Job.recipe.op("->")(literal_column("'loras'"))).table_valued("value")
        lora_name = elements.c.value.op("->>", return_type=Text)(literal_column("'name'"))
    else:
        elements = func.json_each(Job.recipe, "$.loras").table_valued("value")
        lora_name = func.json_extract(elements.c.value, "$.name", type_=Text)
    return exists().select_from(elements).where(func.lower(lora_name) == func.lower(literal(name, Text)))


def _sampler(session: Session) -> ColumnElement[str]:
    """The recipe's sampler; on PostgreSQL the expression `ix_jobs_sampler` is built on."""
    sampler: ColumnElement[str]
    if _dialect(session) == "postgresql":
        sampler = Job.recipe.op("->>", return_type=Text)(literal_column("'sampler'"))
    else:
        sampler = Job.recipe["sampler"].as_string()
    return sampler


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def filter_conditions(session: Session, filters: FeedFilters) -> list[ColumnElement[bool]]:
    """One condition per filter that is set; they combine with AND."""
    conditions: list[ColumnElement[bool]] = []
    if filters.text:
        conditions.append(_text_condition(session, filters))
    if filters.checkpoint:
        named = select(ModelFile.id).where(
            ModelFile.kind == ModelKind.CHECKPOINT, func.lower(ModelFile.name) == func.lower(filters.checkpoint)
        )
        conditions.append(Job.checkpoint_id.in_(named))
    if filters.lora:
        conditions.append(_lora_condition(session, filters.lora))
    if filters.member:
        members = select(User.id).where(func.lower(User.name) == func.lower(filters.member))
        conditions.append(Job.owner_id.in_(members))
    if filters.date_from:
        conditions.append(Image.created_at >= _day_start(filters.date_from))
    if filters.date_to and filters.date_to < date.max:
        conditions.append(Image.created_at < _day_start(filters.date_to + timedelta(days=1)))
    if filters.sampler:
        # Recipes stored before schedule types were separate say "DPM++ 2M Karras".
        names = [filters.sampler] + [f"{filters.sampler} {suffix}" for suffix in (KARRAS, EXPONENTIAL, SGM_UNIFORM)]
        conditions.append(_sampler(session).in_(names))
    if filters.size:
        conditions.extend([Image.width == filters.size[0], Image.height == filters.size[1]])
    return conditions


def _after(cursor: Cursor, keys: list[ColumnElement[Any]]) -> ColumnElement[bool]:
    """Rows that sort after the cursor, all keys descending: one row comparison the index can seek."""
    values = [literal(cursor.created_at, Image.created_at.type), literal(cursor.image_id, Integer)]
    if cursor.score is not None:
        values.insert(0, literal(cursor.score, Integer))
    return tuple_(*keys) < tuple_(*values)


def feed_query(
    session: Session,
    viewer: Viewer,
    filters: FeedFilters,
    cursor: Cursor | None,
    *,
    limit: int,
    now: datetime,
    where: Sequence[ColumnElement[bool]] = (),
) -> Select[Any]:
    """The rows of `Card`s; `where` narrows the feed further (a member's images, a model's images)."""
    keys: list[ColumnElement[Any]] = [Image.created_at.expression, Image.id.expression]
    if filters.sort.is_top:
        keys.insert(0, Image.score.expression)
    query = (
        select(*_card_columns())
        .join(Image.job)
        .outerjoin(User, User.id == Job.owner_id)
        .where(visible_to(viewer), *filter_conditions(session, filters), *where)
    )
    period = filters.sort.period
    if period is not None:
        query = query.where(Image.created_at >= now - period)
    if cursor is not None:
        query = query.where(_after(cursor, keys))
    return query.order_by(*(key.desc() for key in keys)).limit(limit + 1)


def feed_page(
    session: Session,
    viewer: Viewer,
    filters: FeedFilters,
    cursor: Cursor | None = None,
    *,
    limit: int,
    now: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> FeedPage:
    """One page of the feed and the cursor of the next (None on the last page).

    Raises `InvalidInput` naming `q` when the search has no searchable words."""
    query = feed_query(session, viewer, filters, cursor, limit=limit, now=now or datetime.now(UTC), where=where)
    rows = session.execute(query).all()
    items = [Card(*row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        score = last.score if filters.sort.is_top else None
        mark = Cursor(filters.sort.value, score, last.created_at, last.id)
        next_cursor = encode_cursor(mark)
    return FeedPage(items=items, next_cursor=next_cursor)
