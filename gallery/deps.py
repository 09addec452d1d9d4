"""Request dependencies: the settings and a database session from the app, and request bodies
read into the plain mappings that `atelier.recipe.parse_recipe` validates.

Bodies are read loosely on purpose (no pydantic model): the recipe parser is the one place that
checks parameters, so the web form, the JSON API, the bot and the CLI all give the same message
for the same mistake.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from atelier.errors import InvalidInput, NotFound
from atelier.settings import Settings

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

# Ids are 32-bit integers in the schema; a larger one would make PostgreSQL raise, not miss.
MAX_ID = 2**31 - 1
MAX_BODY_BYTES = 256 * 1024

RECIPE_FIELDS = (
    "prompt",
    "negative_prompt",
    "checkpoint",
    "sampler",
    "steps",
    "cfg_scale",
    "width",
    "height",
    "seed",
    "count",
    "init_image",
    "denoising_strength",
)


# FastAPI runs every plain `def` dependency in a worker thread, and each hop costs about 0.2 ms of
# CPU: the dependencies below are `async` where they do no I/O, so a page makes one hop, its route.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# Endpoints that never write (see `read_only`).
READ_ONLY_ENDPOINTS: set[Callable[..., Any]] = set()


def read_only(endpoint: Endpoint) -> Endpoint:
    """Mark a route that only reads: its session runs its queries without a transaction
    (`atelier.db.read_session_factory`), and refuses to write. Apply below the route decorator."""
    READ_ONLY_ENDPOINTS.add(endpoint)
    return endpoint


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A database session for the request. Making one does no I/O (it connects on first use).
    Closing a read-only route's session does none either; closing any other hands the connection
    back to the pool, which rolls back, so that runs in a worker thread."""
    reads_only = request.scope.get("endpoint") in READ_ONLY_ENDPOINTS
    state = request.app.state
    factory: sessionmaker[Session] = state.read_session_factory if reads_only else state.session_factory
    session = factory()
    try:
        yield session
    finally:
        if reads_only:
            session.close()
        else:
            await run_in_threadpool(session.close)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def checked_id(raw: str, what: str) -> int:
    """The id in a URL, or NotFound. Parsed here rather than by a path converter, because a
    10,000-digit "id" must be a 404, not an int-conversion error or a database overflow."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ID))) or not 0 < int(raw) <= MAX_ID:
        raise NotFound(f"{what} {raw[:20]} does not exist")
    return int(raw)


def refuse_nul(name: str, value: str) -> str:
    """`value`, or InvalidInput naming the field when it holds a NUL character: nobody types one,
    and PostgreSQL cannot store one in a text column (it would be a 500, not a message)."""
    if "\x00" in value:
        raise InvalidInput(name, "contains a NUL character")
    return value


async def read_form(request: Request) -> dict[str, str]:
    """The recipe fields of a posted form, as text; uploads and unknown fields are dropped."""
    form = await request.form()
    values: dict[str, str] = {}
    for name in RECIPE_FIELDS:
        value = form.get(name)
        if isinstance(value, str):
            values[name] = value
    return values


async def read_json(request: Request) -> dict[str, Any]:
    """The JSON object a client posted, or InvalidInput naming the body."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInput("body", f"is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body", "is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "must be a JSON object with the recipe fields")
    for name, value in data.items():
        # JSON may spell a lone surrogate ("\\ud800"); no database or PNG can store one.
        if isinstance(value, str) and not _encodable(value):
            raise InvalidInput(str(name), "contains invalid Unicode (a lone surrogate)")
    return data


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


FormDep = Annotated[dict[str, str], Depends(read_form)]
JsonDep = Annotated[dict[str, Any], Depends(read_json)]
