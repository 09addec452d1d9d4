"""`python -m gallery`: serve the gallery with uvicorn on the configured host and port."""

from __future__ import annotations

import gc

import uvicorn

from atelier.logging_setup import setup_logging
from atelier.settings import get_settings
from gallery.app import create_app


def main() -> None:
    settings = get_settings()
    setup_logging(settings)
    app = create_app(settings)
    # What is alive now (modules, the app, SQLAlchemy's and pydantic's structures) lives as long as
    # the process: leave it out of garbage collection. A full collection walked those ~170 000
    # objects and paused every request in flight for about 70 ms; without them, about 2 ms.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.web.gallery_host,
        port=settings.web.gallery_port,
        proxy_headers=True,
        # Open job pages hold event streams; don't let them keep a stopping server up.
        timeout_graceful_shutdown=5,
        # uvicorn's lines (its access log too) go through atelier.logging_setup like every other, at
        # the level chosen there (ATELIER_LOG_LEVEL): no level or config of its own.
        log_level=None,
        log_config=None,
    )


if __name__ == "__main__":
    main()
