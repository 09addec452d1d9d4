"""`POST /api/uploads`: a picture in, its content address out, ready for an img2img recipe."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image

from atelier.settings import Settings


def png(colour: str = "orange", size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_upload_returns_an_address_that_img2img_accepts(client: TestClient, registered: Settings) -> None:
    response = client.post("/api/uploads", files={"image": ("mine.png", png(), "image/png")})
    assert response.status_code == 201, response.text
    address = response.json()["init_image"]
    job = client.post("/api/jobs", json={"prompt": "a circle", "init_image": address, "denoising_strength": 0.5})
    assert job.status_code in (200, 201, 202), job.text


def test_oversized_upload_is_refused_before_reading(client: TestClient) -> None:
    response = client.post(
        "/api/uploads", content=b"x" * 100, headers={"content-length": str(50 * 2**20), "content-type": "image/png"}
    )
    assert response.status_code == 413 and "10 MiB" in response.text


def test_non_image_upload_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/api/uploads", files={"image": ("notes.txt", b"hello", "text/plain")})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "init_image"


def test_cross_site_upload_is_refused(client: TestClient) -> None:
    response = client.post(
        "/api/uploads", files={"image": ("a.png", png(), "image/png")}, headers={"Origin": "https://elsewhere.example"}
    )
    assert response.status_code == 403
