"""Gallery worker threads side by side: image pages nobody has opened, at each `ATELIER_PAGE_THREADS`.

The question behind `gallery.threads`: how many worker threads should a gallery process run its
pages in? This runs the same code with each thread count in turn, round after round (so a slow
moment of the machine falls on every setting alike), against one database that
`bench/gallery_scale.py --keep` left (100 000 images, 500 000 votes):

- 2 gallery processes (`python -m gallery`, one per core), the page cache off, so every request is
  a page made from the database (what a never-opened image page costs);
- warm-up: 20 clients open 200 image pages, not measured;
- then 20 client processes, keep-alive, back to back, 30 requests each, spread over 600 images not
  opened before in that round: the HTML page (`/images/{id}`) and its JSON (`/api/images/{id}`);
- the galleries' CPU time per request, from /proc.

Prints each round, then the medians per setting and their ratio to the first setting.

Usage: .venv/bin/python bench/gallery_threads.py --database NAME [--threads 40,2] [--rounds 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gallery_scale import REDIS, gallery_server, hammer

FRESH_PER_ROUND = 600
WARM_UP = 200


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def gallery_pids() -> list[int]:
    """The gallery processes `gallery_server` started (children of this process running `-m gallery`)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and command[1:3] == [b"-m", b"gallery"]:
            pids.append(int(entry.name))
    return pids


def measure(
    pool: Any, env: dict[str, str], data_dir: Path, path: str, warm: list[int], fresh: list[int]
) -> dict[str, float]:
    with gallery_server(env, 2, data_dir) as ports:
        hammer(pool, ports, [path.format(image) for image in warm], 20, WARM_UP // 20)
        pids = gallery_pids()
        before = cpu_seconds(pids)
        result = hammer(pool, ports, [path.format(image) for image in fresh], 20, 30)
        result["cpu_ms"] = (cpu_seconds(pids) - before) * 1000 / result["n"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="a database `bench/gallery_scale.py --keep` left")
    parser.add_argument("--threads", default="40,2", help="ATELIER_PAGE_THREADS values, comma-separated")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    settings = [int(value) for value in args.threads.split(",")]

    plain = f"postgresql://postgres@127.0.0.1:5432/{args.database}"
    data_dir = Path(tempfile.mkdtemp(prefix="atelier-threads-"))
    env = {
        **os.environ,
        "ATELIER_DATABASE_URL": plain.replace("postgresql://", "postgresql+psycopg://"),
        "ATELIER_REDIS_URL": REDIS,
        "ATELIER_DATA_DIR": str(data_dir),
        "ATELIER_SECRET_KEY": "threads-bench",
        "ATELIER_LOG_LEVEL": "WARNING",
        "ATELIER_PAGE_CACHE_SECONDS": "0",
        "OMP_NUM_THREADS": "1",
    }
    with psycopg.connect(plain) as connection:
        shown = [row[0] for row in connection.execute("SELECT id FROM images WHERE NOT hidden")]
    rng = random.Random(7)
    print(
        f"gallery threads, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{value:.2f}' for value in os.getloadavg())}; {len(shown)} visible images"
    )
    kinds = {"image page": "/images/{}", "API image": "/api/images/{}"}
    results: dict[tuple[str, int], list[dict[str, float]]] = {(kind, count): [] for kind in kinds for count in settings}
    with multiprocessing.get_context("fork").Pool(20) as pool:
        for round_number in range(args.rounds):
            for kind, path in kinds.items():
                for count in settings:
                    images = rng.sample(shown, WARM_UP + FRESH_PER_ROUND)
                    result = measure(
                        pool,
                        {**env, "ATELIER_PAGE_THREADS": str(count)},
                        data_dir,
                        path,
                        images[:WARM_UP],
                        images[WARM_UP:],
                    )
                    results[kind, count].append(result)
                    print(
                        f"  round {round_number + 1}, {kind}, {count} threads: p50 {result['p50']:.1f} ms, "
                        f"p99 {result['p99']:.1f} ms, {result['rps']:.0f} req/s, gallery CPU {result['cpu_ms']:.2f} ms "
                        f"per request, errors {result['errors']}",
                        flush=True,
                    )
    print()
    print("| request | threads | p99 ms, each round | req/s, each round | gallery CPU ms per request", end="")
    print(" | median req/s vs first |")
    print("|---|---:|---|---|---|---:|")
    for kind in kinds:
        first = statistics.median(result["rps"] for result in results[kind, settings[0]])
        for count in settings:
            rounds = results[kind, count]
            rps = statistics.median(result["rps"] for result in rounds)
            p99s = ", ".join(f"{result['p99']:.1f}" for result in rounds)
            rates = ", ".join(f"{result['rps']:.0f}" for result in rounds)
            cpu = ", ".join(f"{result['cpu_ms']:.2f}" for result in rounds)
            print(f"| {kind} | {count} | {p99s} | {rates} | {cpu} | {rps / first:.2f} |")


if __name__ == "__main__":
    main()
