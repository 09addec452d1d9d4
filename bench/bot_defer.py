"""50 concurrent `/draw` interactions against the real bot process: how fast each is deferred.

Discord drops an interaction that is not answered within 3 seconds, so the bot defers first, before
any database or broker call. This sends 50 `/draw` commands at once through the project's fake
Discord (gateway + REST on loopback) to `python -m bot` on SQLite + Redis, and measures, per
interaction, the time from the gateway dispatch to the bot's deferred callback, and to its "queued"
edit. Usage: .venv/bin/python bench/bot_defer.py [--interactions 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REDIS = "redis://127.0.0.1:6379/14"
DEADLINE_SECONDS = 3.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interactions", type=int, default=50)
    args = parser.parse_args()

    from atelier.db import migrate, session_scope
    from atelier.schema import ModelFile, ModelKind
    from tests.helpers.fake_discord import FakeDiscord
    from tests.helpers.processes import Process

    data_dir = Path(tempfile.mkdtemp(prefix="atelier-defer-"))
    database = f"sqlite:///{data_dir / 'atelier.db'}"
    os.environ.update({"ATELIER_DATABASE_URL": database, "ATELIER_REDIS_URL": REDIS, "ATELIER_SECRET_KEY": "bench",
                       "ATELIER_DATA_DIR": str(data_dir), "ATELIER_MAX_QUEUED_PER_MEMBER": "0",
                       "ATELIER_LOG_LEVEL": "WARNING"})  # fmt: skip
    redis.Redis.from_url(REDIS).flushdb()
    migrate(database)
    with session_scope(database) as session:
        session.add(ModelFile(kind=ModelKind.CHECKPOINT, name="bench", file_path="checkpoints/bench.safetensors",
                              sha256="0" * 64, autov2="0" * 10, native_size=64, is_default=True))  # fmt: skip
    with FakeDiscord() as fake:
        bot = Process(["-m", "bot"], data_dir / "bot.log", fake.env())
        try:
            fake.wait_until_identified(1, timeout=90, alive=lambda: bot.popen.poll() is None)
            time.sleep(2)  # command sync and the first database connection are not part of the measure
            sent = [fake.send_slash_command("draw", {"prompt": f"a red circle {n}", "steps": 4})
                    for n in range(args.interactions)]  # fmt: skip
            deferred, queued = [], []
            for interaction in sent:
                callback = fake.wait_for(
                    lambda r, i=interaction: r.method == "POST" and r.path == i.callback_path, timeout=60
                )
                edit = fake.wait_for(
                    lambda r, i=interaction: r.method == "PATCH" and r.path == i.original_path, timeout=120
                )
                deferred.append(callback.at - interaction.at)
                queued.append(edit.at - interaction.at)
        finally:
            bot.stop()
    late = sum(seconds > DEADLINE_SECONDS for seconds in deferred)
    print(f"{args.interactions} concurrent /draw interactions, real bot process, fake Discord on loopback, "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"deferred: p50 {statistics.median(deferred) * 1000:.0f} ms, p99 {percentile(deferred, 0.99) * 1000:.0f} ms, "
          f"max {max(deferred) * 1000:.0f} ms; past the 3 s deadline: {late}")  # fmt: skip
    print(f"'queued — #n' shown: p50 {statistics.median(queued) * 1000:.0f} ms, "
          f"p99 {percentile(queued, 0.99) * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
