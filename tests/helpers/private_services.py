"""A Redis and a PostgreSQL of a test's own, which chaos tests may kill and restart without touching the
shared servers other tests use. Both listen on unix sockets in the test's folder only."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def _wait(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up in {timeout}s")


def unreachable_redis() -> redis.Redis:
    """A client for a port nothing listens on: Redis down, as services must survive it."""
    return redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)


class PrivateRedis:
    """redis-server on a socket, keeping nothing on disk: a restart loses every message, as in production
    without persistence."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def start(self) -> None:
        command = ["redis-server", "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                   "--save", "", "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _wait(lambda: redis.Redis(unix_socket_path=str(self.socket)).ping(), "private Redis")

    def kill(self) -> None:
        """SIGKILL: the server and everything it held are gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.socket.unlink(missing_ok=True)


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb as the postgres user, since the server refuses root), in a
    folder of its own under /tmp that the postgres user can reach; removed by `stop`."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="atelier-pg-"))
        self.data = self.folder / "pgdata"
        self.port = 5433 + os.getpid() % 2000

    @staticmethod
    def available() -> bool:
        return (POSTGRES_BIN / "initdb").exists() and shutil.which("runuser") is not None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@/atelier?host={self.folder}&port={self.port}"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True)

    def start(self) -> None:
        if not self.data.exists():
            shutil.chown(self.folder, "postgres")
            self._as_postgres(str(POSTGRES_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")
        self._ctl("start", "-w", "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=''")
        admin = f"host={self.folder} port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = 'atelier'").fetchone():
                connection.execute("CREATE DATABASE atelier")

    def _ctl(self, action: str, *options: str) -> None:
        self._as_postgres(str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "pg.log"),
                          action, *options)  # fmt: skip

    def restart(self) -> None:
        """Fast restart: every connection is cut, as when the database host reboots."""
        self._ctl("restart", "-m", "fast", "-w", "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=''")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("stop", "-m", "immediate", "-w")
        shutil.rmtree(self.folder, ignore_errors=True)
