"""The app as a whole: startup, headers, static files, 404 pages, and what it imports."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from atelier.db import engine_for
from atelier.settings import DatabaseSettings, Settings
from gallery.app import create_app
from gallery.deps import READ_ONLY_ENDPOINTS
from tests.helpers.browser import free_port
from tests.helpers.processes import REPO, Process

FORBIDDEN = ("torch", "diffusers", "transformers", "discord", "bot", "workers")


def test_startup_migrates_a_fresh_database(registered: Settings, tmp_path: Path) -> None:
    """Starting the app on an empty SQLite file creates the schema, so a fresh data dir just works."""
    url = f"sqlite:///{tmp_path / 'fresh' / 'atelier.db'}"
    fresh = registered.model_copy(update={"database": DatabaseSettings(database_url=url)})
    with TestClient(create_app(fresh)) as client:
        assert client.get("/healthz").status_code == 200
    assert {"jobs", "images", "model_files"} <= set(inspect(engine_for(url)).get_table_names())


def test_healthz_is_503_when_database_is_down(registered: Settings) -> None:
    """/healthz fails loudly when the database does not answer."""
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
    down = registered.model_copy(update={"database": DatabaseSettings(database_url=url)})
    client = TestClient(create_app(down))  # no lifespan: migrating would fail first
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "error"


def test_pages_send_security_headers(client: TestClient) -> None:
    """Pages forbid inline scripts, framing and MIME sniffing."""
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_pages_have_no_inline_scripts(client: TestClient) -> None:
    """Every script is a file, so the strict content security policy holds."""
    html = client.get("/").text
    assert "<script>" not in html
    assert 'src="/static/draw.js' in html


def test_static_files_are_served(client: TestClient) -> None:
    """The stylesheet and scripts are served from /static."""
    for name in ("style.css", "job.js", "draw.js", "copy.js", "favicon.svg"):
        assert client.get(f"/static/{name}").status_code == 200


def test_unknown_page_is_html_404(client: TestClient) -> None:
    """An unknown page path is a friendly HTML 404 with a way back."""
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert 'href="/"' in response.text


def test_only_get_routes_read_without_a_transaction(registered: Settings) -> None:
    """Routes marked read-only are pages and API reads (GET), and the public pages are among them."""
    routes = iter_route_contexts(create_app(registered).routes)
    marked = {route.path: route.methods for route in routes if route.endpoint in READ_ONLY_ENDPOINTS}
    assert all(methods == {"GET"} for methods in marked.values())
    assert {"/", "/feed/page", "/images/{image_id}", "/api/images", "/api/images/{image_id}"} <= set(marked)


def test_import_boundary() -> None:
    """Importing and building the gallery loads no render stack, no discord, no bot and no workers."""
    code = (
        "import sys, json, gallery.app, gallery.__main__; gallery.app.create_app(); "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))"
    )
    env = {"ATELIER_DATA_DIR": "/nonexistent-atelier-data", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def healthz(process: Process, port: int, timeout: float = 60) -> object:
    """/healthz's answer from a gallery process that is starting, once it listens."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > deadline or process.popen.poll() is not None:
                raise
            time.sleep(0.2)


def test_python_m_gallery_serves_on_configured_port(registered: Settings, tmp_path: Path) -> None:
    """`python -m gallery` listens on ATELIER_GALLERY_HOST/PORT and answers /healthz."""
    port = free_port()
    process = Process(
        ["-m", "gallery"],
        tmp_path / "gallery.log",
        env={"ATELIER_GALLERY_HOST": "127.0.0.1", "ATELIER_GALLERY_PORT": str(port)},
    )
    try:
        process.wait_for_log("Uvicorn running", timeout=60)
        assert healthz(process, port) == {"status": "ok"}
    finally:
        process.stop()


def test_python_m_gallery_logs_requests_only_at_the_configured_level(registered: Settings, tmp_path: Path) -> None:
    """ATELIER_LOG_LEVEL=WARNING keeps uvicorn's per-request lines out of the log, as it does every
    other INFO line (at the default INFO, each request is logged)."""
    lines = {}
    for level in ("WARNING", "INFO"):
        port = free_port()
        env = {"ATELIER_GALLERY_HOST": "127.0.0.1", "ATELIER_GALLERY_PORT": str(port), "ATELIER_LOG_LEVEL": level}
        process = Process(["-m", "gallery"], tmp_path / f"gallery-{level}.log", env=env)
        try:
            assert healthz(process, port) == {"status": "ok"}
        finally:
            process.stop()
        lines[level] = process.log()
    assert "GET /healthz" not in lines["WARNING"]
    assert "GET /healthz" in lines["INFO"]
