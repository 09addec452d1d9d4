"""The README's run command: `atelier up` on the embedded default serves the gallery and renders."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from atelier.storage import read_infotext
from tests.helpers.processes import Process

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def _post_json(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture
def system(models_dir: Path) -> Iterator[tuple[str, Process, dict[str, str]]]:
    """`atelier up` with no URLs set: embedded Redis + SQLite in a short data dir (socket paths are short)."""
    port = _free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="atl-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("ATELIER_")}
    env.update({
        "ATELIER_DATA_DIR": str(data_dir),
        "ATELIER_MODELS_DIR": str(models_dir),
        "ATELIER_GALLERY_PORT": str(port),
        "ATELIER_DEFAULT_CHECKPOINT": "tiny-test",
        "HF_HUB_OFFLINE": "1",
        "ATELIER_TORCH_THREADS": "1",
    })  # fmt: skip
    process = Process(["-m", "atelier.cli", "up"], data_dir / "up.log", env, inherit_env=False)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if _get(f"{base}/healthz")[0] == 200 and "worker ready" in process.log():
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise TimeoutError(process.log()[-3000:])
        yield base, process, env
    finally:
        process.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_up_serves_health_and_renders_a_submitted_prompt(system: tuple[str, Process, dict[str, str]]) -> None:
    """healthz answers, a submitted prompt is rendered by the embedded worker and its image page shows it."""
    base, process, _ = system
    created = _post_json(f"{base}/api/jobs", {"prompt": "a red circle on a blue background", "steps": 4})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = json.loads(_get(f"{base}/api/jobs/{created['id']}")[1])
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.5)
    assert job["state"] == "done", process.log()[-3000:]
    status, page = _get(f"{base}/images/{job['image_ids'][0]}")
    assert status == 200 and "a red circle on a blue background" in page


def test_ctrl_c_stops_every_part(system: tuple[str, Process, dict[str, str]]) -> None:
    """SIGINT to `atelier up` stops the worker, the gallery and the embedded Redis."""
    base, process, _ = system

    process.popen.send_signal(signal.SIGINT)
    assert process.popen.wait(60) == 0
    with pytest.raises(OSError):
        _get(f"{base}/healthz")


def test_render_command_prints_the_image_path(system: tuple[str, Process, dict[str, str]]) -> None:
    """`atelier render` submits to the running system, waits, and prints a PNG path with the recipe inside."""
    _, _, env = system
    result = subprocess.run(
        [sys.executable, "-m", "atelier.cli", "render", "a red circle", "--steps", "3", "--seed", "11"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path.suffix == ".png" and path.is_file()
    assert "Seed: 11" in (read_infotext(path) or "")


def test_render_command_explains_bad_input(system: tuple[str, Process, dict[str, str]]) -> None:
    """A bad option is refused with the field named and no traceback."""
    _, _, env = system
    result = subprocess.run(
        [sys.executable, "-m", "atelier.cli", "render", "a red circle", "--steps", "0"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "steps" in result.stderr and "Traceback" not in result.stderr
