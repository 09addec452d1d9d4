"""Serve an ASGI app on a real port and drive Debian's Chromium with Playwright, for browser tests.

Playwright's own browser downloads are never used (`playwright install` needs the network and
pins a build): tests launch the system Chromium at /usr/bin/chromium, and skip when it is absent.
The server runs in a thread of the test process, so it sees the test's settings and database.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def chromium_available() -> bool:
    return CHROMIUM.is_file() and shutil.which(str(CHROMIUM)) is not None


@contextmanager
def serving(app: Any, timeout: float = 30.0) -> Iterator[str]:
    """Run `app` with uvicorn on a free port in a background thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


@contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator[Page]:
    """A page in a fresh headless Chromium; closed (with the browser) afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def browser_marks() -> list[Any]:
    """The marks of a browser test module: `browser`, skipped where Debian's Chromium is missing."""
    import pytest

    return [
        pytest.mark.browser,
        pytest.mark.skipif(not chromium_available(), reason="needs /usr/bin/chromium (apt-get install chromium)"),
    ]
