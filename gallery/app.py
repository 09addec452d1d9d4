"""The gallery's FastAPI application, assembled from small route modules.

`create_app` takes its settings as an argument (defaulting to the process settings) so tests and
the embedded run command can point one process at any database without touching globals. The
schema is migrated at startup because a fresh data dir must serve without a manual step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from atelier import __version__
from atelier.db import migrate, read_session_factory, session_factory
from atelier.settings import Settings, get_settings
from gallery.errors import install_error_handlers
from gallery.page_cache import ChangeNotices, PageCache, listen_conninfo
from gallery.routes import (
    api,
    auth,
    events,
    feed,
    files,
    members,
    mod_models,
    models,
    moderation,
    ops,
    pages,
    prompt_check,
    reports,
    uploads,
    votes,
)
from gallery.security import SecurityHeaders
from gallery.threads import use_page_threads

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app for `settings` (the process settings when None)."""
    settings = settings or get_settings()
    conninfo = listen_conninfo(settings.database_url)
    notices = ChangeNotices(conninfo) if conninfo and settings.web.page_cache_seconds > 0 else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Alembic is synchronous and may take a moment on PostgreSQL: keep the loop free.
        await run_in_threadpool(migrate, settings.database_url)
        use_page_threads(settings.web.page_threads)
        yield
        if notices is not None:
            await notices.close()

    app = FastAPI(
        title="Atelier gallery",
        version=__version__,
        lifespan=lifespan,
        # Swagger UI loads its scripts from a CDN, which the pages' CSP (and offline hosts) refuse.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.session_factory = session_factory(settings.database_url)
    app.state.read_session_factory = read_session_factory(settings.database_url)
    app.add_middleware(SecurityHeaders)
    # Outside the security headers, so cached answers carry them too.
    app.add_middleware(
        PageCache,
        notices=notices,
        max_age=settings.web.page_cache_seconds,
        max_bytes=settings.web.page_cache_megabytes * 1024 * 1024,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (feed, pages, members, models, api, events, files, ops, auth, votes, uploads, prompt_check):
        app.include_router(module.router)
    for module in (reports, moderation, mod_models):
        app.include_router(module.router)
    install_error_handlers(app)
    return app
