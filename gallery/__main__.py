"""`python -m gallery`: serve the gallery with uvicorn on the configured host and port."""

from __future__ import annotations

import uvicorn

from atelier.logging_setup import setup_logging
from atelier.settings import get_settings
from gallery.app import create_app


def main() -> None:
    settings = get_settings()
    setup_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.web.gallery_host,
        port=settings.web.gallery_port,
        proxy_headers=True,
        # Open job pages hold event streams; don't let them keep a stopping server up.
        timeout_graceful_shutdown=5,
        log_level="info",
        log_config=None,  # uvicorn's lines go through atelier.logging_setup like every other
    )


if __name__ == "__main__":
    main()
