"""Gallery at scale: 100 000 images and 500 000 votes in PostgreSQL, the real gallery process, 20 clients.

1. Creates a private PostgreSQL database, migrates it to 0008, bulk-loads (COPY) members, models, jobs
   with varied recipes (prompts from a vocabulary, checkpoints, samplers, sizes, LoRAs, remixes) and
   their images, and votes (popular images get more; one per member and image, none on one's own),
   then upgrades to head: migration 0009 backfills `images.score` and builds the feed's indexes (timed).
2. Starts the gallery as `atelier gallery` does (`python -m gallery`, one uvicorn process), once per
   `--workers` (default 2: one per core of this machine), each on its own port; the clients spread
   over them as a reverse proxy would (see `gallery_server` for why not `uvicorn --workers`).
3. Follows the feed's cursor chain once (infinite scroll's fragments) to the cursor of page 1000, for
   newest and top of all time.
4. Warms up: 20 clients open 200 image pages that are not measured, so connection pools and
   PostgreSQL's backends are as on a server that has been up a while. Then, for each request kind
   (pages and, where the JSON API has them, its equivalents): one client (the service time, no
   queueing); 20 concurrent clients (separate processes, keep-alive connections) back to back, 30
   requests each; and 20 browsing users pausing 0.5 s on average between requests.
   Prints p50/p95/p99, requests/s, and the share answered from the page cache (the clients are
   visitors without a login; `ATELIER_PAGE_CACHE_SECONDS=0` in the environment turns the cache off).
   With `--vote-rate`, a separate process votes through the vote service meanwhile, each vote
   emptying the cache as a busy community's would.
5. CPU per feed page by part in one process (feed query, draw form and model lists, template), and
   EXPLAIN ANALYZE of the SQL behind each kind (the feed's own query builder), median of 5.
6. Drops the database.

No image files: pages only link thumbnails (`/files/...`), and the clients fetch HTML and JSON only.

Usage: .venv/bin/python bench/gallery_scale.py [--images 100000] [--votes 500000] [--members 300]
       [--clients 20] [--requests 30] [--think 0.5] [--workers 2] [--vote-rate 0] [--keep | --database NAME]
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import multiprocessing
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/13"
NOW = datetime.now(UTC).replace(microsecond=0)
SPAN = timedelta(days=365)

SUBJECTS = [
    "castle",
    "cat",
    "dragon",
    "lighthouse",
    "robot",
    "forest",
    "city",
    "portrait of a woman",
    "portrait of an old man",
    "fox",
    "owl",
    "mountain lake",
    "spaceship",
    "samurai",
    "witch",
    "knight",
    "waterfall",
    "desert",
    "train station",
    "library",
    "garden",
    "wolf",
    "whale",
    "tiger",
    "harbor",
    "village",
    "cathedral",
    "bridge",
    "astronaut",
    "mermaid",
    "phoenix",
    "tree house",
    "market",
    "cyborg",
    "dancer",
    "horse",
    "bicycle",
    "teapot",
    "mushroom",
    "jellyfish",
]
ADJECTIVES = [
    "ancient",
    "tiny",
    "giant",
    "glowing",
    "abandoned",
    "floating",
    "frozen",
    "golden",
    "misty",
    "neon",
    "ruined",
    "serene",
    "stormy",
]
SETTINGS = [
    "at sunset",
    "in the rain",
    "under the stars",
    "in autumn",
    "on a cliff",
    "in the snow",
    "by the sea",
    "in a dark forest",
    "at dawn",
    "on mars",
    "underwater",
    "in a busy street",
    "in the clouds",
    "in a meadow",
    "at night",
]
STYLES = [
    "oil painting",
    "watercolor",
    "digital art",
    "photograph, 35mm",
    "anime style",
    "concept art",
    "pixel art",
    "ink sketch",
    "3d render",
    "studio ghibli style",
    "art nouveau",
    "cinematic lighting",
    "highly detailed",
    "low poly",
    "ukiyo-e",
]
NEGATIVES = ("", "blurry", "lowres, bad anatomy", "watermark, text", "blurry, deformed, extra fingers")
CHECKPOINTS = [
    "dreamshaper-8",
    "realistic-vision-v6",
    "sdxl-base-1.0",
    "juggernaut-xl",
    "anything-v5",
    "deliberate-v3",
    "absolute-reality",
    "counterfeit-v3",
]
CHECKPOINT_WEIGHTS = (30, 20, 15, 10, 10, 6, 5, 4)
LORAS = [
    "ink",
    "glow",
    "pixel-style",
    "film-grain",
    "watercolor-wash",
    "cyberpunk",
    "detail-tweaker",
    "clay",
    "papercut",
    "stained-glass",
]
SIZES = ((512, 512), (512, 768), (768, 512), (1024, 1024), (832, 1216))
SIZE_WEIGHTS = (40, 20, 15, 15, 10)
SCHEDULES = ("Automatic", "Karras", "Exponential")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- data ------------------------------------------------------------------------------------------


def _recipe(rng: random.Random, samplers: list[str]) -> dict[str, Any]:
    from atelier.recipe import LoraUse, Recipe

    width, height = rng.choices(SIZES, SIZE_WEIGHTS)[0]
    loras = tuple(
        LoraUse(name, round(rng.uniform(0.4, 1.0), 2)) for name in rng.sample(LORAS, rng.choice((0, 0, 0, 1, 2)))
    )
    subject = rng.choice(SUBJECTS)
    prompt = f"{rng.choice(('a', 'an', 'the'))} {rng.choice(ADJECTIVES)} {subject} {rng.choice(SETTINGS)}, "
    prompt += ", ".join(rng.sample(STYLES, rng.randint(1, 3)))
    recipe = Recipe(
        prompt=prompt,
        negative_prompt=rng.choice(NEGATIVES),
        checkpoint=rng.choices(CHECKPOINTS, CHECKPOINT_WEIGHTS)[0],
        sampler=rng.choice(samplers),
        schedule_type=rng.choice(SCHEDULES),
        steps=rng.choice((20, 25, 30)),
        cfg_scale=rng.choice((5.0, 6.0, 7.0, 7.5)),
        width=width,
        height=height,
        seed=rng.randint(0, 2**32 - 1),
        loras=loras,
    )
    return recipe.to_json()


def load(url_plain: str, images: int, votes: int, members: int, seed: int = 8) -> dict[str, float]:
    """COPY every row in; returns seconds per step. Ids are assigned here (sequences set after)."""
    from atelier.infotext import build_infotext
    from atelier.recipe import Recipe
    from atelier.samplers import BY_NAME

    rng = random.Random(seed)
    samplers = list(BY_NAME)
    timings: dict[str, float] = {}
    began = time.perf_counter()
    job_rows: list[tuple[Any, ...]] = []
    image_rows: list[tuple[Any, ...]] = []
    owners = np.zeros(images + 1, dtype=np.int64)
    step = SPAN / images
    job_id = 0
    checkpoint_ids = {name: number + 1 for number, name in enumerate(CHECKPOINTS)}
    while len(image_rows) < images:
        job_id += 1
        count = min(rng.choices((1, 2, 4), (50, 20, 30))[0], images - len(image_rows))
        recipe = _recipe(rng, samplers)
        recipe["count"] = count
        owner = min(members, int(rng.paretovariate(1.2)))  # a few members draw most
        owner = owner if rng.random() < 0.5 else rng.randint(1, members)
        first = len(image_rows) + 1
        made = NOW - SPAN + step * first
        parent = rng.randint(1, first - 1) if first > 1 and rng.random() < 0.05 else None
        job_rows.append(
            (
                job_id,
                owner,
                "discord" if job_id % 3 else "web",
                json.dumps(recipe),
                checkpoint_ids[recipe["checkpoint"]],
                "done",
                1,
                recipe["steps"],
                recipe["steps"],
                made - timedelta(seconds=8),
                made - timedelta(seconds=6),
                made,
                5.0,
                20.0,
                parent,
            )
        )
        parsed = Recipe.from_json(recipe)
        for index in range(count):
            image_id = len(image_rows) + 1
            owners[image_id] = owner
            seed_i = recipe["seed"] + index
            infotext = build_infotext(parsed, seed=seed_i, model_name=recipe["checkpoint"], model_hash="0123456789")
            digest = uuid.UUID(int=rng.getrandbits(128)).hex * 2
            image_rows.append(
                (
                    image_id,
                    job_id,
                    index,
                    seed_i,
                    f"{digest[:2]}/{digest}.png",
                    f"{digest[:2]}/{digest}.webp",
                    recipe["width"],
                    recipe["height"],
                    infotext,
                    rng.random() < 0.05,
                    rng.random() < 0.01,
                    made + timedelta(milliseconds=index),
                )
            )
    timings["generate jobs and images"] = time.perf_counter() - began

    began = time.perf_counter()
    generator = np.random.default_rng(seed)
    popularity = generator.pareto(1.1, images) + 0.05  # heavy tail: a few images get hundreds of votes
    popularity /= popularity.sum()
    pairs = np.empty(0, dtype=np.int64)
    while pairs.size < votes:
        picked = generator.choice(images, size=votes, p=popularity) + 1
        voters = generator.integers(1, members + 1, size=votes)
        keep = voters != owners[picked]
        pairs = np.unique(np.concatenate([pairs, voters[keep] * (images + 1) + picked[keep]]))
    pairs = generator.permutation(pairs)[:votes]
    vote_users, vote_images = pairs // (images + 1), pairs % (images + 1)
    timings["generate votes"] = time.perf_counter() - began

    began = time.perf_counter()
    with psycopg.connect(url_plain) as connection, connection.cursor() as cursor:
        with cursor.copy("COPY users (id, name, role, discord_role_ids, created_at) FROM STDIN") as copy:
            for member in range(1, members + 1):
                copy.write_row((member, f"member-{member:03d}", "member", "[]", NOW - SPAN))
        columns = (
            "id, kind, name, file_path, sha256, autov2, autov3, base_arch, native_size, size_bytes, enabled, "
            "is_default, nsfw_allowed, trigger_words, created_at"
        )
        with cursor.copy(f"COPY model_files ({columns}) FROM STDIN") as copy:
            models = [("checkpoint", name) for name in CHECKPOINTS] + [("lora", name) for name in LORAS]
            for number, (kind, name) in enumerate(models, 1):
                copy.write_row(
                    (
                        number,
                        kind,
                        name,
                        f"{kind}s/{name}.safetensors",
                        f"{number:064x}",
                        f"{number:010x}",
                        f"{number:012x}",
                        "sd1",
                        512,
                        2_000_000_000,
                        True,
                        number == 1,
                        False,
                        "[]",
                        NOW - SPAN,
                    )
                )
        columns = (
            "id, owner_id, source, recipe, checkpoint_id, state, attempts, progress_step, progress_total, "
            "created_at, started_at, finished_at, render_seconds, work_units, parent_image_id"
        )
        cursor.execute("ALTER TABLE jobs DISABLE TRIGGER ALL")  # parent_image_id: images come next
        with cursor.copy(f"COPY jobs ({columns}) FROM STDIN") as copy:
            for row in job_rows:
                copy.write_row(row)
        cursor.execute("ALTER TABLE jobs ENABLE TRIGGER ALL")
        columns = (
            "id, job_id, index, seed, file_path, thumbnail_path, width, height, infotext, nsfw, hidden, created_at"
        )
        with cursor.copy(f"COPY images ({columns}) FROM STDIN") as copy:
            for row in image_rows:
                copy.write_row(row)
        with cursor.copy("COPY votes (id, user_id, image_id, value, created_at) FROM STDIN") as copy:
            created = [image_rows[image - 1][-1] for image in vote_images.tolist()]
            for number, (user, image, made) in enumerate(
                zip(vote_users.tolist(), vote_images.tolist(), created, strict=True), 1
            ):
                copy.write_row((number, user, image, 1, min(NOW, made + timedelta(minutes=number % 4000))))
        for table in ("users", "model_files", "jobs", "images", "votes"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    timings[f"COPY {members} members, {len(job_rows)} jobs, {images} images, {votes} votes"] = (
        time.perf_counter() - began
    )
    return timings


# --- the server and its clients ---------------------------------------------------------------------


@contextmanager
def gallery_server(env: dict[str, str], processes: int, log_dir: Path) -> Iterator[list[int]]:
    """`processes` gallery processes, each exactly what `atelier gallery` runs (`python -m gallery`),
    on ports of their own; the clients spread over them as a reverse proxy's upstream would.

    Not `uvicorn --workers N`: uvicorn 0.54 binds that socket itself without IPPROTO_TCP, so asyncio
    leaves TCP_NODELAY off on its connections and every response waits out a delayed ACK (measured:
    44 ms for /healthz, against 1.3 ms from `python -m gallery`)."""
    ports = [free_port() for _ in range(processes)]
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for number, port in enumerate(ports):
            with (log_dir / f"gallery-{number}.log").open("wb") as log:
                servers.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "gallery"],
                        cwd=REPO,
                        env={**env, "ATELIER_GALLERY_PORT": str(port)},
                        stdout=log,
                        stderr=log,
                    )
                )
        for port in ports:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if get(port, "/healthz")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.3)
            else:
                raise RuntimeError(f"the gallery did not start; see {log_dir}")
        yield ports
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(30)


def get(port: int, path: str, connection: http.client.HTTPConnection | None = None) -> tuple[int, str]:
    status, body, _ = fetch(port, path, connection)
    return status, body


def fetch(port: int, path: str, connection: http.client.HTTPConnection | None = None) -> tuple[int, str, bool]:
    """Status, body, and whether the gallery answered from its page cache."""
    own = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        own.request("GET", path)
        response = own.getresponse()
        return response.status, response.read().decode(), response.getheader("x-atelier-cache") == "hit"
    finally:
        if connection is None:
            own.close()


def _client(
    port: int, paths: list[str], count: int, start_at: float, seed: int, think: float
) -> tuple[list[float], int, int, float, float]:
    """One client: a keep-alive connection, `count` requests from `start_at` on, back to back or (with
    `think` seconds) each after a random pause averaging `think`, as a person reading a page."""
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    get(port, paths[0], connection)  # connect and warm this process
    time.sleep(max(0.0, start_at - time.time()))
    if think:  # users arrive spread out, not in lockstep (a synchronized first burst would be the tail)
        time.sleep(rng.uniform(0, 2 * think))
    latencies: list[float] = []
    errors = hits = 0
    first = time.time()
    for _ in range(count):
        path = rng.choice(paths)
        began = time.perf_counter()
        status, _, hit = fetch(port, path, connection)
        latencies.append((time.perf_counter() - began) * 1000)
        errors += status != 200
        hits += hit
        if think:
            time.sleep(rng.expovariate(1 / think))
    connection.close()
    return latencies, errors, hits, first, time.time()


def hammer(
    pool: Any, ports: list[int], paths: list[str], clients: int, count: int, think: float = 0.0
) -> dict[str, float]:
    start_at = time.time() + 1.0
    jobs = [(ports[number % len(ports)], paths, count, start_at, number, think) for number in range(clients)]
    results = pool.starmap(_client, jobs)
    elapsed = max(result[4] for result in results) - min(result[3] for result in results)
    latencies = [value for result in results for value in result[0]]
    return {
        "n": len(latencies),
        "errors": sum(result[1] for result in results),
        "hits": 100 * sum(result[2] for result in results) / len(latencies),
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "rps": len(latencies) / max(elapsed, 1e-9),
    }


def _voter(url: str, rate: float, members: int, images: list[int], stop: Any) -> None:
    """Members voting while the clients read, `rate` times a second, through the vote service (each
    vote changes an image's score, so every cached page is dropped): a community at work."""
    from atelier.db import session_factory
    from atelier.errors import AtelierError
    from atelier.services.votes import set_vote

    rng = random.Random(13)
    sessions = session_factory(url)
    while not stop.wait(rng.expovariate(rate)):
        with sessions() as session:
            try:
                set_vote(session, rng.randint(1, members), rng.choice(images), rng.random() < 0.6)
            except AtelierError:  # their own image
                session.rollback()


@contextmanager
def voting(url: str, rate: float, members: int, images: list[int]) -> Iterator[None]:
    if not rate:
        yield
        return
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    process = context.Process(target=_voter, args=(url, rate, members, images, stop), daemon=True)
    process.start()
    try:
        yield
    finally:
        stop.set()
        process.join(10)


_MORE = re.compile(r'data-more="([^"]+)"')


def cursor_url(port: int, params: str, page: int) -> tuple[str, float]:
    """The query string of feed page `page` (1-based) for `params`, by following infinite scroll's
    fragments from the first page, as a browser scrolling down would; and the seconds the walk took."""
    began = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    status, body = get(port, f"/?{params}" if params else "/", connection)
    for _ in range(page - 1):
        assert status == 200, body[:500]
        found = _MORE.search(body)
        assert found, "the feed ended before the page asked for"
        fragment = html.unescape(found.group(1))
        status, body = get(port, fragment, connection)
    connection.close()
    return fragment.split("?", 1)[1], time.perf_counter() - began


# --- EXPLAIN ANALYZE --------------------------------------------------------------------------------


def explain(url: str, queries: dict[str, Any], repeats: int = 5) -> dict[str, tuple[float, float, str]]:
    """Median planning and execution ms of each query, and its plan's first lines."""
    from atelier.db import engine_for

    engine = engine_for(url)
    results: dict[str, tuple[float, float, str]] = {}
    with engine.connect() as connection:
        for name, query in queries.items():
            compiled = query.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
            plans, planning, execution = [], [], []
            for _ in range(repeats):
                rows = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", compiled.params).all()
                plan = [row[0] for row in rows]
                planning.append(float(re.search(r"Planning Time: ([\d.]+)", "\n".join(plan)).group(1)))  # type: ignore[union-attr]
                execution.append(float(re.search(r"Execution Time: ([\d.]+)", "\n".join(plan)).group(1)))  # type: ignore[union-attr]
                plans.append(plan)
            results[name] = (statistics.median(planning), statistics.median(execution), "\n".join(plans[-1]))
    return results


def sql_of_kinds(url: str, cursors: dict[str, str], image_id: int) -> dict[str, Any]:
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    from atelier.db import session_factory
    from atelier.schema import Image, Job
    from gallery.feed import feed_query
    from gallery.filters import parse_feed_query
    from gallery.queries import visible_to
    from gallery.routes.feed import FEED_PAGE_SIZE
    from gallery.viewer import ANONYMOUS

    queries: dict[str, Any] = {}
    with session_factory(url)() as session:
        for name, params in cursors.items():
            parsed = parse_feed_query(dict(pair.split("=", 1) for pair in _unquote_pairs(params)))
            assert not parsed.errors, parsed.errors
            queries[name] = feed_query(
                session, ANONYMOUS, parsed.filters, parsed.cursor, limit=FEED_PAGE_SIZE, now=datetime.now(UTC)
            )
        queries["image page: the image"] = (
            select(Image).options(joinedload(Image.job)).where(Image.id == image_id, visible_to(ANONYMOUS))
        )
        queries["image page: its remixes"] = (
            select(Image)
            .join(Image.job)
            .options(joinedload(Image.job))
            .where(Job.parent_image_id == image_id, Image.id != image_id, visible_to(ANONYMOUS))
            .order_by(Image.created_at, Image.id)
            .limit(25)
        )
    return queries


def _unquote_pairs(params: str) -> list[str]:
    from urllib.parse import unquote_plus

    return [unquote_plus(pair) for pair in params.split("&") if pair]


# --- where a page's time goes -----------------------------------------------------------------------


def breakdown(url: str, cases: dict[str, str], repeats: int = 100) -> dict[str, dict[str, float]]:
    """CPU ms of one feed page's parts, in this process (no HTTP): the feed query (SQL and ORM rows),
    the rest of the page's data (draw form, model lists), and rendering the template."""
    from starlette.requests import Request

    from atelier.db import session_factory
    from atelier.settings import get_settings
    from gallery.app import create_app
    from gallery.feed import feed_page
    from gallery.filters import parse_feed_query
    from gallery.forms import build_form
    from gallery.routes.feed import FEED_PAGE_SIZE, _context
    from gallery.templating import templates
    from gallery.viewer import ANONYMOUS

    app = create_app(get_settings())
    sessions = session_factory(url)
    results: dict[str, dict[str, float]] = {}
    for name, params in cases.items():
        scope = {"type": "http", "method": "GET", "path": "/", "query_string": params.encode(), "headers": [],
                 "app": app, "scheme": "http", "server": ("127.0.0.1", 80), "root_path": ""}  # fmt: skip
        request = Request(scope)
        parsed = parse_feed_query(request.query_params)
        spent = {"feed query (SQL + rows)": 0.0, "draw form + model lists": 0.0, "template": 0.0}
        for round_ in range(repeats + 10):
            with sessions() as session:
                began = time.process_time()
                feed_page(session, ANONYMOUS, parsed.filters, parsed.cursor, limit=FEED_PAGE_SIZE)
                queried = time.process_time()
                context = {"form": build_form(session), **_context(request, session, ANONYMOUS, parsed)}
                gathered = time.process_time()
                templates.TemplateResponse(request, "feed.html", context)
                rendered = time.process_time()
            if round_ >= 10:
                spent["feed query (SQL + rows)"] += queried - began
                # _context runs the feed query again: count it once, above
                spent["draw form + model lists"] += max(0.0, (gathered - queried) - (queried - began))
                spent["template"] += rendered - gathered
        results[name] = {part: seconds * 1000 / repeats for part, seconds in spent.items()}
    return results


# --- main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=500_000)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=30, help="per client and request kind")
    parser.add_argument("--think", type=float, default=0.5, help="mean pause of the browsing users (s)")
    parser.add_argument("--think-requests", type=int, default=12, help="per browsing user and request kind")
    parser.add_argument("--workers", type=int, default=2, help="gallery processes (python -m gallery each)")
    parser.add_argument("--deep-page", type=int, default=1000)
    parser.add_argument("--vote-rate", type=float, default=0.0, help="votes per second cast while reading")
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument("--database", help="reuse (and keep) a database a --keep run left; skips the load")
    args = parser.parse_args()

    name = args.database or f"atelier_scale_{uuid.uuid4().hex[:8]}"
    plain = f"postgresql://postgres@127.0.0.1:5432/{name}"
    url = plain.replace("postgresql://", "postgresql+psycopg://")
    data_dir = tempfile.mkdtemp(prefix="atelier-scale-")
    env = {
        **os.environ,
        "ATELIER_DATABASE_URL": url,
        "ATELIER_REDIS_URL": REDIS,
        "ATELIER_DATA_DIR": data_dir,
        "ATELIER_SECRET_KEY": "scale-bench",
        "ATELIER_LOG_LEVEL": "WARNING",
        "OMP_NUM_THREADS": "1",
    }
    os.environ.update(env)
    print(
        f"gallery scale, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}"
    )
    if not args.database:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        from alembic import command

        from atelier.db import alembic_config, engine_for

        if not args.database:
            command.upgrade(alembic_config(url), "0008")
            for step, seconds in load(plain, args.images, args.votes, args.members).items():
                print(f"  {step}: {seconds:.1f} s")
            began = time.perf_counter()
            command.upgrade(alembic_config(url), "head")
            print(
                f"  migrate to head (0009 backfills images.score, builds indexes): {time.perf_counter() - began:.1f} s"
            )
            engine_for.cache_clear()
            began = time.perf_counter()
            with psycopg.connect(plain, autocommit=True) as connection:
                connection.execute("VACUUM ANALYZE")
                wrong = connection.execute(
                    "SELECT count(*) FROM images i"
                    " WHERE score <> (SELECT count(*) FROM votes v WHERE v.image_id = i.id)"
                ).fetchone()
            print(
                f"  VACUUM ANALYZE: {time.perf_counter() - began:.1f} s; images whose score differs from their "
                f"votes: {wrong[0] if wrong else '?'}"
            )
        with psycopg.connect(plain) as connection:
            counts = connection.execute(
                "SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM votes), (SELECT count(*) FROM jobs),"
                " (SELECT count(*) FROM users), (SELECT max(score) FROM images)"
            ).fetchone()
            shown = [
                row[0]
                for row in connection.execute("SELECT id FROM images WHERE NOT hidden ORDER BY random() LIMIT 700")
            ]
            visible, spare = shown[:500], shown[500:]
            remixed = connection.execute(
                "SELECT parent_image_id FROM jobs j JOIN images i ON i.id = j.parent_image_id WHERE NOT i.hidden"
                " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ).fetchone()
        assert counts is not None
        print(
            f"  database: {counts[0]} images, {counts[1]} votes, {counts[2]} jobs, {counts[3]} members; "
            f"top score {counts[4]}"
        )
        run(args, env, visible, spare, int(remixed[0]) if remixed else visible[0])
    finally:
        from atelier.db import engine_for

        engine_for.cache_clear()
        if args.keep or args.database:
            print(f"kept {url}")
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: argparse.Namespace, env: dict[str, str], visible: list[int], spare: list[int], remixed: int) -> None:
    with gallery_server(env, args.workers, Path(env["ATELIER_DATA_DIR"])) as ports:
        port = ports[0]
        has_api = get(port, "/api/images?limit=1")[0] == 200
        deep_new, walk_new = cursor_url(port, "", args.deep_page)
        deep_top, walk_top = cursor_url(port, "sort=top-all", args.deep_page)
        print(
            f"  cursor of page {args.deep_page}: newest {walk_new:.1f} s, top of all time {walk_top:.1f} s "
            f"(following {args.deep_page - 1} fragments each)"
        )
        search = "q=castle"
        filtered = "q=portrait&checkpoint=dreamshaper-8&sampler=DPM%2B%2B+2M"
        filters_only = "checkpoint=juggernaut-xl&sampler=Euler+a&size=1024x1024"
        feed_kinds = {
            "feed page 1": "",
            f"feed page {args.deep_page}": deep_new,
            "top of the week, page 1": "sort=top-week",
            f"top of all time, page {args.deep_page}": deep_top,
            "search (full text)": search,
            "search + checkpoint + sampler": filtered,
            "filters: checkpoint + sampler + size": filters_only,
        }
        kinds: dict[str, list[str]] = {name: [f"/?{params}" if params else "/"] for name, params in feed_kinds.items()}
        kinds[f"feed fragment (infinite scroll), page {args.deep_page}"] = [f"/feed/page?{deep_new}"]
        kinds["image page"] = [f"/images/{image_id}" for image_id in visible]
        kinds["image page with remixes"] = [f"/images/{remixed}"]
        if has_api:
            for name, params in feed_kinds.items():
                kinds[f"API {name}"] = [f"/api/images?{params}"]
            kinds["API image"] = [f"/api/images/{image_id}" for image_id in visible]
        context = multiprocessing.get_context("fork")
        rows: list[tuple[str, dict[str, float], dict[str, float], dict[str, float]]] = []
        voters = voting(env["ATELIER_DATABASE_URL"], args.vote_rate, args.members, visible)
        with context.Pool(args.clients) as pool, voters:
            # Warm up as a server that has been up a while is: every process's connection pool and
            # PostgreSQL's backends at this concurrency, on image pages that are not measured.
            hammer(pool, ports, [f"/images/{image_id}" for image_id in spare], args.clients, 10)
            for kind, paths in kinds.items():
                for path in paths[:1]:
                    status, body = get(port, path)
                    assert status == 200, f"{kind}: {path} answered {status}: {body[:300]}"
                single = hammer(pool, ports, paths, 1, max(20, args.requests))
                loaded = hammer(pool, ports, paths, args.clients, args.requests)
                users = hammer(pool, ports, paths, args.clients, args.think_requests, args.think)
                rows.append((kind, single, loaded, users))
                print(
                    f"  {kind}: 1 client p50 {single['p50']:.1f} ms p99 {single['p99']:.1f}; {args.clients} clients "
                    f"p50 {loaded['p50']:.1f} p95 {loaded['p95']:.1f} p99 {loaded['p99']:.1f} max "
                    f"{loaded['max']:.1f} ms, {loaded['rps']:.0f} req/s; {args.clients} users p50 {users['p50']:.1f} "
                    f"p99 {users['p99']:.1f} ({users['rps']:.0f} req/s); errors {loaded['errors'] + users['errors']}; "
                    f"from the page cache {loaded['hits']:.0f} % / {users['hits']:.0f} %",
                    flush=True,
                )
        load_avg = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"\nserver: {args.workers} gallery process(es), page cache "
        f"{env.get('ATELIER_PAGE_CACHE_SECONDS', 'default')} s; clients: {args.clients} processes, keep-alive; "
        f"back to back, and as users pausing {args.think} s on average; {args.vote_rate} votes/s meanwhile; "
        f"load average after: {load_avg}\n"
    )
    print(
        f"| request | 1 client p50 | p99 | {args.clients} back-to-back p50 | p95 | p99 | req/s "
        f"| {args.clients} users p50 | p99 | req/s | cached |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, single, loaded, users in rows:
        print(
            f"| {kind} | {single['p50']:.1f} | {single['p99']:.1f} | {loaded['p50']:.1f} | {loaded['p95']:.1f} | "
            f"{loaded['p99']:.1f} | {loaded['rps']:.0f} | {users['p50']:.1f} | {users['p99']:.1f} "
            f"| {users['rps']:.0f} | {loaded['hits']:.0f} % / {users['hits']:.0f} % |"
        )
    by_kind = {kind: (single, loaded) for kind, single, loaded, _ in rows}
    first, deep = by_kind["feed page 1"], by_kind[f"feed page {args.deep_page}"]
    print(
        f"\npage {args.deep_page} / page 1 (feed, p50): 1 client {deep[0]['p50'] / first[0]['p50']:.2f}, "
        f"{args.clients} clients {deep[1]['p50'] / first[1]['p50']:.2f}"
    )

    parts = breakdown(env["ATELIER_DATABASE_URL"], {name: feed_kinds[name] for name in list(feed_kinds)[:5]})
    print("\nCPU ms per feed page in one process (no HTTP), by part:\n")
    print("| page | " + " | ".join(next(iter(parts.values()))) + " | sum |")
    print("|---|" + "---:|" * (len(next(iter(parts.values()))) + 1))
    for name, spent in parts.items():
        print(
            f"| {name} | " + " | ".join(f"{value:.2f}" for value in spent.values()) + f" | {sum(spent.values()):.2f} |"
        )
    plans = explain(env["ATELIER_DATABASE_URL"], sql_of_kinds(env["ATELIER_DATABASE_URL"], feed_kinds, remixed))
    print("\n| SQL | planning ms | execution ms | plan |")
    print("|---|---:|---:|---|")
    for name, (planning, execution, plan) in plans.items():
        print(f"| {name} | {planning:.2f} | {execution:.2f} | {_plan_summary(plan)} |")
    if os.environ.get("ATELIER_BENCH_PLANS"):
        for name, (_, _, plan) in plans.items():
            print(f"\n--- {name}\n{plan}")


def _plan_summary(plan: str) -> str:
    """The indexes a plan uses, in order (or the scan kind when none)."""
    used = re.findall(
        r"(Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)(?: Backward)? (?:using (\w+) )?on (\w+)", plan
    )
    return ", ".join(f"{kind} {index or table}" for kind, index, table in used) or "?"


if __name__ == "__main__":
    main()
