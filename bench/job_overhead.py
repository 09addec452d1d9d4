"""Per-job overhead of submit -> queue -> claim -> complete, with a no-op renderer, on real Redis
and PostgreSQL (and on the embedded SQLite for comparison). Prints jobs/s and ms/job.

Usage: .venv/bin/python bench/job_overhead.py [--jobs 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/14"


def measure(database_url: str, count: int) -> dict[str, float]:
    from atelier import queue as atelier_queue
    from atelier.db import migrate, session_factory
    from atelier.schema import Job, JobSource, JobState, ModelFile, ModelKind
    from atelier.services.jobs import submit
    from atelier.settings import get_settings, load_settings

    env = {"ATELIER_DATABASE_URL": database_url, "ATELIER_REDIS_URL": REDIS, "ATELIER_SECRET_KEY": "bench"}
    os.environ.update(env)
    get_settings.cache_clear()
    atelier_queue.forget_apps()
    settings = load_settings()
    redis.Redis.from_url(REDIS).flushdb()
    migrate(database_url)
    sessions = session_factory(database_url)
    with sessions() as session:
        session.add(ModelFile(kind=ModelKind.CHECKPOINT, name="bench", file_path="checkpoints/bench.safetensors",
                              sha256="0" * 64, autov2="0" * 10, native_size=64, is_default=True))  # fmt: skip
        session.commit()
    worker = subprocess.Popen([sys.executable, str(REPO / "bench" / "noop_worker.py")], cwd=REPO,
                              env={**os.environ, **env})  # fmt: skip
    try:
        time.sleep(4)  # worker start-up is not part of the overhead
        submit_ms = []
        started = time.perf_counter()
        with sessions() as session:
            ids = []
            for i in range(count):
                t0 = time.perf_counter()
                ids.append(submit(session, settings, {"prompt": f"bench {i}", "steps": 1}, source=JobSource.CLI).id)
                submit_ms.append((time.perf_counter() - t0) * 1000)
        with sessions() as session:
            while session.query(Job).filter(Job.state == JobState.DONE).count() < count:
                time.sleep(0.05)
                session.expire_all()
        elapsed = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(20)
    return {
        "jobs_per_s": count / elapsed,
        "ms_per_job": elapsed * 1000 / count,
        "submit_p50_ms": statistics.median(submit_ms),
        "submit_p99_ms": sorted(submit_ms)[int(len(submit_ms) * 0.99) - 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    args = parser.parse_args()
    name = f"atelier_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        results = {"postgresql": measure(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", args.jobs)}
    finally:
        from atelier.db import engine_for

        engine_for.cache_clear()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = measure(f"sqlite:///{folder}/bench.db", args.jobs)
    print(f"{'database':<12}{'jobs/s':>10}{'ms/job':>10}{'submit p50 ms':>16}{'submit p99 ms':>16}")
    for database, row in results.items():
        print(f"{database:<12}{row['jobs_per_s']:>10.1f}{row['ms_per_job']:>10.2f}"
              f"{row['submit_p50_ms']:>16.2f}{row['submit_p99_ms']:>16.2f}")  # fmt: skip
    pg, lite = results["postgresql"], results["sqlite"]
    print(f"ratio postgresql/sqlite ms per job: {pg['ms_per_job'] / lite['ms_per_job']:.2f}")


if __name__ == "__main__":
    main()
