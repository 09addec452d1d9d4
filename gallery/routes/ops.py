"""Operations endpoints: `/readyz` for load balancers and orchestrators, `/metrics` for Prometheus.

`/healthz` (in `api`) says the process serves; `/readyz` says it can do its work: the database and
Redis both answer. `/metrics` is computed from the database and Redis on each scrape, so every
gallery replica reports the same totals whatever process submitted or rendered the jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.orm import Session

from atelier.queue import live_workers
from atelier.services import operations
from atelier.settings import Settings
from gallery.deps import SessionDep, SettingsDep
from gallery.threads import run_slow

router = APIRouter()

CHECK_TIMEOUT_SECONDS = 2.0
QUANTILES = (0.5, 0.9, 0.99)


@lru_cache(maxsize=4)
def _probe_client(url: str) -> redis.Redis:
    """Short timeouts: a readiness probe must answer well within the orchestrator's own timeout."""
    return redis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS)


def _check(probe: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        probe()
    except Exception as error:  # any failure means not ready; its kind (never its text: URLs) is shown
        result: dict[str, Any] = {"ok": False, "error": type(error).__name__}
    else:
        result = {"ok": True}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


@router.get("/readyz")
async def readyz(session: SessionDep, settings: SettingsDep) -> JSONResponse:
    """200 when the database and Redis both answer; 503 naming the failing checks otherwise. A server
    that is down makes its probe wait out a timeout: that waits off the pages' threads."""
    return await run_slow(_readiness, session, settings)


def _readiness(session: Session, settings: Settings) -> JSONResponse:
    checks = {
        "database": _check(lambda: session.execute(text("SELECT 1"))),
        "redis": _check(lambda: _probe_client(settings.redis_url).ping()),
    }
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"status": "unavailable" if failing else "ok", "failing": failing, "checks": checks}
    return JSONResponse(body, status_code=503 if failing else 200)


def _quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class DatabaseCollector:
    """Reads the numbers at scrape time (prometheus_client's custom collector protocol)."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        by_state_source = operations.jobs_by_state_and_source(self.session)
        submitted = CounterMetricFamily("atelier_jobs_submitted", "Jobs ever submitted.", labels=["source"])
        for source in sorted({source for _, source in by_state_source}):
            total = sum(count for (_, src), count in by_state_source.items() if src == source)
            submitted.add_metric([source], total)
        yield submitted
        for state in ("done", "failed", "cancelled"):
            family = CounterMetricFamily(f"atelier_jobs_{state}", f"Jobs that ended {state}.", labels=["source"])
            for (row_state, source), count in sorted(by_state_source.items()):
                if row_state == state:
                    family.add_metric([source], count)
            yield family
        in_state = GaugeMetricFamily("atelier_jobs", "Jobs now in each state.", labels=["state"])
        for state, count in operations.jobs_by_state(self.session).items():
            in_state.add_metric([state], count)
        yield in_state
        queued = GaugeMetricFamily("atelier_jobs_queued", "Queued jobs per checkpoint.", labels=["checkpoint"])
        for name, count in sorted(operations.queued_by_checkpoint(self.session).items()):
            queued.add_metric([name], count)
        yield queued
        oldest = operations.oldest_queued(self.session)
        yield GaugeMetricFamily(
            "atelier_oldest_queued_job_age_seconds",
            "How long the oldest queued job has waited (0 when none waits).",
            value=oldest.age_seconds if oldest else 0.0,
        )
        render = SummaryMetricFamily(
            "atelier_render_seconds", "Seconds spent rendering done jobs, per checkpoint.", labels=["checkpoint"]
        )
        for name, totals in sorted(operations.render_seconds_by_checkpoint(self.session).items()):
            render.add_metric([name], count_value=totals.count, sum_value=totals.seconds)
        yield render
        waits = operations.recent_queue_waits(self.session)
        ordered = sorted(waits)
        wait = SummaryMetricFamily(
            "atelier_queue_wait_seconds",
            "Seconds from submit to start, over jobs started in the last hour.",
            count_value=len(waits),
            sum_value=sum(waits),
        )
        for q in QUANTILES:
            wait.add_sample("atelier_queue_wait_seconds", {"quantile": str(q)}, _quantile(ordered, q))
        yield wait
        yield from self._redis_metrics()

    def _redis_metrics(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("atelier_redis_up", "1 when Redis answered this scrape.")
        try:
            client = _probe_client(self.settings.redis_url)
            workers = live_workers(client)
            queues = operations.broker_queue_lengths(client, {name for held in workers.values() for name in held})
        except (redis.RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("atelier_workers_live", "Workers with a fresh heartbeat.", value=len(workers))
        warm = GaugeMetricFamily(
            "atelier_worker_warm_checkpoints", "Checkpoints each live worker holds loaded.", labels=["worker"]
        )
        for name, held in sorted(workers.items()):
            warm.add_metric([name], len(held))
        yield warm
        depth = GaugeMetricFamily("atelier_broker_queue_length", "Messages waiting in a queue.", labels=["queue"])
        for name, length in queues.items():
            depth.add_metric([name], length)
        yield depth


@router.get("/metrics")
async def metrics(session: SessionDep, settings: SettingsDep) -> Response:
    """Prometheus text exposition format 0.0.4 (what every Prometheus version scrapes; no UTF-8 names here).
    Read from Redis too, which may be down: off the pages' threads, as `/readyz`."""
    return await run_slow(_exposition, session, settings)


def _exposition(session: Session, settings: Settings) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(session, settings))  # type: ignore[arg-type]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)
