"""Load suite, loopback only and bounded in time: many members at once through the real services.

1. Jobs: 50 members submit 10 jobs each, all at the same moment (threads behind a barrier), to the
   real submit service on PostgreSQL + Redis; two worker processes run the real fair claim path with
   a fast renderer (`bench/noop_worker.py`, 20 ms a job). Prints throughput, submit latency, and
   fairness: how long each member waited for their first job to start, and for their last.
2. Gallery: the real gallery process (uvicorn) under 50 concurrent browsing clients for a fixed
   time: the feed, the next page, a top sort, image pages. Prints requests/s, p50/p99 and errors.
3. Vote storm: 50 members toggle votes on the same 20 images concurrently through the vote service;
   prints votes/s and checks that every tally equals the votes stored (nothing lost or doubled).

Usage: .venv/bin/python bench/load.py [--members 50] [--jobs-per-member 10] [--browse-seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/14"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run_together(action: Callable[[int], None], user_ids: list[int]) -> None:
    """One thread per member, all started before any is joined (each waits on its barrier)."""
    threads = [threading.Thread(target=action, args=(user_id,)) for user_id in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def jobs_phase(members: int, per_member: int) -> None:
    from atelier.db import session_factory
    from atelier.schema import Job, JobSource, JobState, User
    from atelier.services.jobs import submit
    from atelier.settings import load_settings

    settings = load_settings()
    sessions = session_factory(settings.database_url)
    with sessions() as session:
        users = [User(name=f"member{n}") for n in range(members)]
        session.add_all(users)
        session.commit()
        user_ids = [user.id for user in users]
    env = {**os.environ, "ATELIER_BENCH_RENDER_MS": "20"}
    workers = [subprocess.Popen([sys.executable, str(REPO / "bench" / "noop_worker.py")], cwd=REPO, env=env)
               for _ in range(2)]  # fmt: skip
    try:
        time.sleep(5)  # worker start-up is not part of the measure
        barrier = threading.Barrier(members)
        latencies: list[float] = []
        lock = threading.Lock()

        def member(user_id: int) -> None:
            barrier.wait()
            with sessions() as session:
                for n in range(per_member):
                    started = time.perf_counter()
                    submit(session, settings, {"prompt": f"load {user_id} {n}", "steps": 1}, source=JobSource.WEB,
                           owner_id=user_id)  # fmt: skip
                    with lock:
                        latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        run_together(member, user_ids)
        total = members * per_member
        with sessions() as session:
            while session.query(Job).filter(Job.state == JobState.DONE).count() < total:
                time.sleep(0.1)
                session.expire_all()
        elapsed = time.perf_counter() - began
        with sessions() as session:
            rows = session.query(Job.owner_id, Job.created_at, Job.started_at).all()
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(20)
    first_wait: dict[int, float] = {}
    last_wait: dict[int, float] = {}
    for owner, created, started in rows:
        wait = (started - created).total_seconds()
        first_wait[owner] = min(first_wait.get(owner, wait), wait)
        last_wait[owner] = max(last_wait.get(owner, 0.0), wait)
    print(f"jobs: {total} from {members} members in {elapsed:.2f} s = {total / elapsed:.1f} jobs/s (2 workers)")
    print(f"  submit latency p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms")
    firsts, lasts = list(first_wait.values()), list(last_wait.values())
    print(f"  wait for a member's first job to start: max {max(firsts):.2f} s, "
          f"median {statistics.median(firsts):.2f} s")  # fmt: skip
    print(f"  wait for a member's last job to start: max {max(lasts):.2f} s, min {min(lasts):.2f} s "
          f"(spread {max(lasts) - min(lasts):.2f} s)")  # fmt: skip


async def browse(port: int, seconds: float, clients: int) -> None:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client_loop(number: int) -> None:
        nonlocal errors
        rng = random.Random(number)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            while time.perf_counter() < deadline:
                for path in await paths(client, rng):
                    started = time.perf_counter()
                    response = await client.get(path)
                    latencies.append((time.perf_counter() - started) * 1000)
                    errors += response.status_code != 200

    async def paths(client: httpx.AsyncClient, rng: random.Random) -> list[str]:
        feed = await client.get("/")
        more = re.search(r'href="(/\?[^"]*cursor=[^"]+)"', feed.text)
        images = re.findall(r'href="(/images/\d+)"', feed.text)
        chosen = ["/?sort=top-week", *(rng.sample(images, min(2, len(images))))]
        return [more.group(1).replace("&amp;", "&"), *chosen] if more else chosen

    began = time.perf_counter()
    await asyncio.gather(*(client_loop(n) for n in range(clients)))
    elapsed = time.perf_counter() - began
    print(f"gallery: {clients} clients for {elapsed:.1f} s: {len(latencies) / elapsed:.1f} requests/s, "
          f"p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
          f"{errors} non-200 of {len(latencies)}")  # fmt: skip


def gallery_phase(seconds: float, clients: int) -> None:
    port = free_port()
    env = {**os.environ, "ATELIER_GALLERY_PORT": str(port)}
    with tempfile.TemporaryFile() as log:
        gallery = subprocess.Popen([sys.executable, "-m", "gallery"], cwd=REPO, env=env, stdout=log, stderr=log)
        _browse_while(gallery, port, seconds, clients)


def _browse_while(gallery: subprocess.Popen[bytes], port: int, seconds: float, clients: int) -> None:
    try:
        import httpx

        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        asyncio.run(browse(port, seconds, clients))
    finally:
        gallery.terminate()
        gallery.wait(20)


def vote_phase(members: int, images: int, votes_per_member: int) -> None:
    from sqlalchemy import func, select

    from atelier.db import session_factory
    from atelier.schema import Image, User, Vote
    from atelier.services import votes
    from atelier.settings import load_settings

    sessions = session_factory(load_settings().database_url)
    with sessions() as session:
        image_ids = list(session.scalars(select(Image.id).order_by(Image.id).limit(images)))
        voters = list(session.scalars(select(User.id).order_by(User.id.desc()).limit(members)))
    barrier = threading.Barrier(len(voters))

    def storm(user_id: int) -> None:
        rng = random.Random(user_id)
        barrier.wait()
        with sessions() as session:
            for _ in range(votes_per_member):
                try:
                    votes.toggle(session, user_id, rng.choice(image_ids))
                except Exception:  # a refused vote (own image) is part of the storm, not a failure
                    session.rollback()

    began = time.perf_counter()
    run_together(storm, voters)
    elapsed = time.perf_counter() - began
    with sessions() as session:
        per_image = select(Vote.image_id, func.count()).group_by(Vote.image_id)
        stored = {image_id: count for image_id, count in session.execute(per_image)}
        consistent = all(votes.tally(session, image_id) == stored.get(image_id, 0) for image_id in image_ids)
        duplicates = session.scalar(
            select(func.count()).select_from(
                select(Vote.user_id, Vote.image_id).group_by(Vote.user_id, Vote.image_id)
                .having(func.count() > 1).subquery()
            )
        )  # fmt: skip
    total = len(voters) * votes_per_member
    print(f"votes: {total} toggles by {len(voters)} members on {len(image_ids)} images in {elapsed:.2f} s = "
          f"{total / elapsed:.0f} votes/s; tallies consistent: {consistent}; "
          f"duplicate votes: {duplicates}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--jobs-per-member", type=int, default=10)
    parser.add_argument("--browse-seconds", type=float, default=15.0)
    args = parser.parse_args()
    name = f"atelier_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    data_dir = tempfile.mkdtemp(prefix="atelier-load-")
    os.environ.update({
        "ATELIER_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        "ATELIER_REDIS_URL": REDIS,
        "ATELIER_DATA_DIR": data_dir,
        "ATELIER_SECRET_KEY": "load-bench",
        "ATELIER_MAX_QUEUED_PER_MEMBER": "0",
        "ATELIER_LOG_LEVEL": "WARNING",
    })  # fmt: skip
    redis.Redis.from_url(REDIS).flushdb()
    try:
        from atelier.db import migrate, session_factory
        from atelier.schema import ModelFile, ModelKind

        migrate(os.environ["ATELIER_DATABASE_URL"])
        with session_factory(os.environ["ATELIER_DATABASE_URL"])() as session:
            session.add(ModelFile(kind=ModelKind.CHECKPOINT, name="bench", file_path="checkpoints/bench.safetensors",
                                  sha256="0" * 64, autov2="0" * 10, native_size=64, is_default=True))  # fmt: skip
            session.commit()
        print(f"load suite, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, PostgreSQL + Redis on loopback")
        jobs_phase(args.members, args.jobs_per_member)
        gallery_phase(args.browse_seconds, args.members)
        vote_phase(args.members, 20, 20)
    finally:
        from atelier.db import engine_for

        engine_for.cache_clear()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
