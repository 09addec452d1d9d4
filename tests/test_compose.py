"""docker-compose.yml, checked as data since no Docker engine runs here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_every_part_is_a_service(compose: dict[str, Any]) -> None:
    """postgres, redis, a one-shot migrate, gallery, bot and worker."""
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "gallery", "bot", "worker"}


def test_stores_have_healthchecks_and_volumes(compose: dict[str, Any]) -> None:
    """PostgreSQL and Redis are health-checked and keep their data in volumes; Redis appends to disk."""
    services = compose["services"]
    for name in ("postgres", "redis", "gallery"):
        assert services[name]["healthcheck"]["test"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "--appendonly" in services["redis"]["command"]


def test_apps_wait_for_migrations_and_redis(compose: dict[str, Any]) -> None:
    """gallery, bot and worker start after migrate succeeded and Redis is healthy."""
    for name in ("gallery", "bot", "worker"):
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
    assert compose["services"]["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_worker_reserves_a_gpu_and_mounts_models_read_only(compose: dict[str, Any]) -> None:
    """One NVIDIA GPU per worker container; the model store is read-only; images are shared with the gallery."""
    worker = compose["services"]["worker"]
    device = worker["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["count"] == 1 and "gpu" in device["capabilities"]
    assert "./models:/models:ro" in worker["volumes"]
    assert "images:/data" in worker["volumes"] and "images:/data" in compose["services"]["gallery"]["volumes"]


def test_no_secret_is_written_inline() -> None:
    """Passwords, keys and tokens come only from ${VARIABLES}."""
    text = (REPO / "docker-compose.yml").read_text()
    for line in text.splitlines():
        if re.search(r"(PASSWORD|SECRET|TOKEN)[A-Z_]*:\s*\S", line):
            value = line.split(":", 1)[1]
            assert "${" in value, line
    assert "atelier:${POSTGRES_PASSWORD" in text


def test_bot_and_gallery_image_has_no_torch() -> None:
    """The CPU image installs Atelier without the worker extra; the worker image has it."""
    assert "'.[worker]'" not in (REPO / "docker" / "Dockerfile.app").read_text()
    assert "'.[worker]'" in (REPO / "docker" / "Dockerfile.worker").read_text()
