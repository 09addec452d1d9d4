"""`atelier status`: queue depth per checkpoint, broker queues, live workers, jobs per state, oldest job."""

from __future__ import annotations

import json

import pytest
import redis
from typer.testing import CliRunner

from atelier.cli import app
from atelier.queue import SHARED_QUEUE, advertise_worker, model_queue
from atelier.settings import Settings, get_settings
from tests.helpers.workload import seed_workload


def _broker_messages(settings: Settings) -> None:
    """Two messages on the shared queue, one on tiny-test's own queue (as kombu's Redis transport stores them)."""
    client = redis.Redis.from_url(settings.redis_url)
    client.rpush(SHARED_QUEUE, "m1", "m2")
    client.rpush(model_queue("tiny-test"), "m3")
    advertise_worker(client, "gpu-host:41", ["tiny-test"])
    client.close()


def test_status_json_reports_the_known_workload(registered: Settings) -> None:
    """--json: jobs per state, queued per checkpoint, broker queue lengths, the worker and its warm model."""
    workload = seed_workload(registered)
    _broker_messages(registered)
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["jobs"] == {"queued": 3, "running": 1, "done": 2, "failed": 1, "cancelled": 1}
    assert report["queued_by_checkpoint"] == {"tiny-test": 3}
    assert report["broker_queues"] == {SHARED_QUEUE: 2, model_queue("tiny-test"): 1}
    assert report["workers"] == {"gpu-host:41": ["tiny-test"]}
    assert report["oldest_queued"]["job_id"] == workload.oldest_queued_id
    assert workload.oldest_queued_age <= report["oldest_queued"]["age_seconds"] < workload.oldest_queued_age + 60
    assert report["redis_error"] is None


def test_status_text_is_readable(registered: Settings) -> None:
    """The plain report names each number on its own line."""
    workload = seed_workload(registered)
    _broker_messages(registered)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "jobs: queued 3, running 1, done 2, failed 1, cancelled 1"
    assert lines[1].startswith(f"oldest queued: job {workload.oldest_queued_id}, waiting 1")
    assert "  tiny-test: 3" in lines
    assert f"  {SHARED_QUEUE}: 2" in lines
    assert f"  {model_queue('tiny-test')}: 1" in lines
    assert "workers: 1 live:" in lines
    assert "  gpu-host:41: warm tiny-test" in lines


def test_status_of_an_idle_install(registered: Settings) -> None:
    """No jobs, no workers: zeros, not errors."""
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["jobs"].values()) == {0}
    assert (report["queued_by_checkpoint"], report["oldest_queued"], report["workers"]) == ({}, None, {})
    assert report["broker_queues"] == {SHARED_QUEUE: 0}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_status_without_redis_still_reports_the_database(registered: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis down: the database's numbers are printed, Redis is named as unreachable, and the exit code is 1."""
    seed_workload(registered)
    monkeypatch.setenv("ATELIER_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "jobs: queued 3, running 1, done 2, failed 1, cancelled 1"
    assert "redis: unreachable (ConnectionError); broker queues and workers unknown" in result.stdout
