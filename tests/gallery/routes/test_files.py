"""Image files: content-addressed names only, visible images only, never a path outside."""

from __future__ import annotations

import http.client

import pytest
from fastapi.testclient import TestClient

from atelier.settings import Settings
from gallery.app import create_app
from tests.gallery.factories import add_image
from tests.helpers.browser import serving


def test_serves_image_and_thumbnail(client: TestClient, registered: Settings) -> None:
    """A visible image's PNG and WebP thumbnail are served with their types and a cache header."""
    made = add_image(registered)
    png = client.get(f"/files/{made['file_path']}")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert "max-age" in png.headers["cache-control"]
    thumbnail = client.get(f"/files/{made['thumbnail_path']}")
    assert thumbnail.headers["content-type"] == "image/webp"


def test_hidden_image_file_is_404(client: TestClient, registered: Settings) -> None:
    """Hiding an image stops its files from being served."""
    made = add_image(registered, hidden=True)
    assert client.get(f"/files/{made['file_path']}").status_code == 404


def test_unrecorded_file_is_404(client: TestClient, registered: Settings) -> None:
    """A well-named file that no image row uses is not served."""
    stray = registered.paths.images_dir / "ab" / ("ab" + "0" * 62 + ".png")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"\x89PNG stray")
    assert client.get(f"/files/ab/{stray.name}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/files/../atelier.db",
        "/files/..%2fatelier.db",
        "/files/%2e%2e/atelier.db",
        "/files/%2e%2e%2fatelier.db",
        "/files/%252e%252e%252fatelier.db",
        "/files/..%5catelier.db",
        "/files//etc/passwd",
        "/files/%2fetc%2fpasswd",
        "/files/ab/../../atelier.db",
        "/files/ab/" + "a" * 64 + ".db",
        "/files/AB/" + "A" * 64 + ".png",
        "/files/ab/" + "a" * 64 + ".png%00.txt",
    ],
)
def test_traversal_is_refused(client: TestClient, registered: Settings, path: str) -> None:
    """Paths that leave the images dir or are not content-addressed are 404 and never read a file."""
    add_image(registered)
    response = client.get(path)
    assert response.status_code == 404
    assert b"SQLite" not in response.content
    assert b"root:" not in response.content


def test_raw_traversal_over_http_is_refused(registered: Settings) -> None:
    """Unnormalised `..` sent byte-for-byte to a real server is refused too."""
    registered.paths.data_dir.mkdir(parents=True, exist_ok=True)
    (registered.paths.data_dir / "secret.txt").write_text("top secret")
    with serving(create_app(registered)) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        for raw in ("/files/../secret.txt", "/files/../../secret.txt", "/files/..%2f..%2fsecret.txt"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", raw)
            response = connection.getresponse()
            body = response.read()
            connection.close()
            assert response.status in (400, 404), raw
            assert b"top secret" not in body
