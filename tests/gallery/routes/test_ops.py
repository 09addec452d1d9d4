"""`/readyz` names each dependency and its latency; `/metrics` reports the database's numbers to Prometheus."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from atelier.queue import SHARED_QUEUE, advertise_worker
from atelier.settings import DatabaseSettings, RedisSettings, Settings
from gallery.app import create_app
from tests.helpers.workload import seed_workload

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


def test_readyz_is_ok_when_database_and_redis_answer(client: TestClient) -> None:
    """Both checks pass: 200 with each check's latency."""
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["failing"]) == ("ok", [])
    for name in ("database", "redis"):
        assert body["checks"][name]["ok"] is True
        assert body["checks"][name]["latency_ms"] >= 0


def test_readyz_names_a_stopped_redis(registered: Settings) -> None:
    """Redis on a closed port: 503 naming redis; the database check still passes; /healthz stays 200."""
    stopped = registered.model_copy(update={"redis": RedisSettings(redis_url=CLOSED_PORT_REDIS)})
    with TestClient(create_app(stopped)) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["failing"]) == ("unavailable", ["redis"])
    assert body["checks"]["redis"] == {
        "ok": False,
        "error": "ConnectionError",
        "latency_ms": pytest.approx(0, abs=2500),
    }
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_readyz_names_a_stopped_database(registered: Settings) -> None:
    """PostgreSQL on a closed port: 503 naming the database, with Redis still ok."""
    url = registered.database_url.rsplit("@", 1)[0] + "@127.0.0.1:1/atelier"
    stopped = registered.model_copy(update={"database": DatabaseSettings(database_url=url)})
    client = TestClient(create_app(stopped))  # no lifespan: it would migrate the unreachable database
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert body["checks"]["redis"]["ok"] is True


@pytest.fixture
def scraped(client: TestClient, registered: Settings) -> Iterator[dict[str, list[Sample]]]:
    """The known workload, a live worker and two broker messages, scraped and parsed."""
    seed_workload(registered)
    broker = redis.Redis.from_url(registered.redis_url)
    broker.rpush(SHARED_QUEUE, "m1", "m2")
    advertise_worker(broker, "gpu-host:41", ["tiny-test"])
    broker.close()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = text_string_to_metric_families(response.text)
    yield {family.name: family.samples for family in families}


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, samples)
    return found[0]


def test_metrics_count_jobs_by_outcome_and_source(scraped: dict[str, list[Sample]]) -> None:
    """Submitted, done, failed and cancelled are counters per source; current states are a gauge."""
    submitted = scraped["atelier_jobs_submitted"]
    assert {s.labels["source"]: s.value for s in submitted} == {"web": 5, "discord": 2, "cli": 1}
    assert _value(scraped["atelier_jobs_done"], "atelier_jobs_done_total", source="web") == 2
    assert _value(scraped["atelier_jobs_failed"], "atelier_jobs_failed_total", source="discord") == 1
    assert _value(scraped["atelier_jobs_cancelled"], "atelier_jobs_cancelled_total", source="web") == 1
    assert {s.labels["state"]: s.value for s in scraped["atelier_jobs"]} == {
        "queued": 3, "running": 1, "done": 2, "failed": 1, "cancelled": 1,
    }  # fmt: skip
    assert _value(scraped["atelier_jobs_queued"], "atelier_jobs_queued", checkpoint="tiny-test") == 3
    assert _value(scraped["atelier_oldest_queued_job_age_seconds"], "atelier_oldest_queued_job_age_seconds") >= 120


def test_metrics_sum_render_seconds_per_model(scraped: dict[str, list[Sample]]) -> None:
    """Render seconds per checkpoint: count and sum of the done jobs' measured times."""
    render = scraped["atelier_render_seconds"]
    assert _value(render, "atelier_render_seconds_count", checkpoint="tiny-test") == 2
    assert _value(render, "atelier_render_seconds_sum", checkpoint="tiny-test") == pytest.approx(4.0)


def test_metrics_summarise_queue_wait(scraped: dict[str, list[Sample]]) -> None:
    """Queue wait over recently started jobs: the running job's 3 s and the done jobs' 10 s and 5 s."""
    wait = scraped["atelier_queue_wait_seconds"]
    assert _value(wait, "atelier_queue_wait_seconds_count") == 3
    assert _value(wait, "atelier_queue_wait_seconds_sum") == pytest.approx(18.0, abs=0.1)
    assert _value(wait, "atelier_queue_wait_seconds", quantile="0.5") == pytest.approx(5.0, abs=0.1)
    assert _value(wait, "atelier_queue_wait_seconds", quantile="0.99") == pytest.approx(10.0, abs=0.1)


def test_metrics_report_workers_and_broker_queues(scraped: dict[str, list[Sample]]) -> None:
    """Live workers from their heartbeats and broker queue lengths from Redis."""
    assert _value(scraped["atelier_redis_up"], "atelier_redis_up") == 1
    assert _value(scraped["atelier_workers_live"], "atelier_workers_live") == 1
    warm = scraped["atelier_worker_warm_checkpoints"]
    assert _value(warm, "atelier_worker_warm_checkpoints", worker="gpu-host:41") == 1
    depth = scraped["atelier_broker_queue_length"]
    assert _value(depth, "atelier_broker_queue_length", queue=SHARED_QUEUE) == 2
    assert _value(depth, "atelier_broker_queue_length", queue="render.model.tiny-test") == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_metrics_of_an_idle_install_parse(client: TestClient) -> None:
    """No jobs yet: every family is present with zeros (quantiles NaN), and the text still parses."""
    families = {family.name: family for family in text_string_to_metric_families(client.get("/metrics").text)}
    assert {s.value for s in families["atelier_jobs_submitted"].samples} == {0}
    assert math.isnan(
        _value(families["atelier_queue_wait_seconds"].samples, "atelier_queue_wait_seconds", quantile="0.5")
    )
    assert families["atelier_render_seconds"].samples == []
