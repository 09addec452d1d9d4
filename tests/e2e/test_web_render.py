"""End to end through the web: the gallery's form, a real worker process, the finished image page."""

from __future__ import annotations

import io
import re
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from atelier.settings import Settings
from gallery.app import create_app
from tests.helpers.processes import Process

pytestmark = pytest.mark.slow

RENDER_TIMEOUT_SECONDS = 180.0


def test_form_submission_renders_to_image_page(registered: Settings, worker: Process) -> None:
    """A prompt posted with the form is rendered by a worker and shown on its image page with its recipe."""
    form = {
        "prompt": "a red circle on a blue background",
        "checkpoint": "tiny-test",
        "sampler": "Euler a",
        "steps": "3",
        "cfg_scale": "7",
        "width": "64",
        "height": "64",
        "seed": "4242",
        "count": "1",
    }
    with TestClient(create_app(registered)) as client:
        response = client.post("/draw", data=form, follow_redirects=False)
        assert response.status_code == 303, response.text
        job_id = int(re.fullmatch(r"/jobs/(\d+)", response.headers["location"]).group(1))  # type: ignore[union-attr]

        deadline = time.monotonic() + RENDER_TIMEOUT_SECONDS
        status = client.get(f"/api/jobs/{job_id}").json()
        while not status["finished"]:
            assert time.monotonic() < deadline, f"job not finished: {status}\n{worker.log()[-3000:]}"
            time.sleep(0.5)
            status = client.get(f"/api/jobs/{job_id}").json()
        assert status["state"] == "done", f"{status}\n{worker.log()[-3000:]}"
        assert len(status["images"]) == 1
        image = status["images"][0]

        page = client.get(image["url"])
        assert page.status_code == 200
        assert "a red circle on a blue background" in page.text
        assert "<dt>Seed</dt><dd>4242</dd>" in page.text
        assert "<dt>Model</dt><dd>tiny-test</dd>" in page.text
        assert "Seed: 4242" in page.text  # the infotext block

        png = client.get(image["file_url"])
        assert png.status_code == 200
        with Image.open(io.BytesIO(png.content)) as picture:
            assert picture.size == (64, 64)
            assert "Seed: 4242" in picture.info["parameters"]

        assert f'href="/images/{image["id"]}"' in client.get("/").text
        assert f'href="{image["url"]}"' in client.get(f"/jobs/{job_id}").text
