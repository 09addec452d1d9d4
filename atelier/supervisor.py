"""`atelier up`'s process supervisor: start every part, restart a part that dies, stop all on Ctrl-C.

Each part is its own process (the worker must not share a process with the web server: CUDA and
forking do not mix, and a crashing render must not take the gallery down). A part that keeps
crashing (a worker on a broken GPU driver, a bot with a revoked token) is restarted after a delay
that doubles with each crash, up to a minute, so it neither spins nor takes the other parts down;
a part that then runs for a minute is considered healthy again.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType

FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 60.0
HEALTHY_AFTER_SECONDS = 60.0
STOP_GRACE_SECONDS = 20.0

log = logging.getLogger(__name__)


@dataclass
class Part:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    crashes: int = 0
    started_at: float = 0.0
    restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv)
        self.started_at, self.restart_at = time.monotonic(), None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def schedule_restart(self, now: float) -> float:
        """Count the crash and return the delay before the next start (doubling, capped)."""
        if now - self.started_at >= HEALTHY_AFTER_SECONDS:
            self.crashes = 0
        self.crashes += 1
        delay: float = min(FIRST_RESTART_DELAY * 2.0 ** (self.crashes - 1), MAX_RESTART_DELAY)
        self.restart_at = now + delay
        return delay


def python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]


class Supervisor:
    def __init__(self, parts: list[Part], stop_grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        self.parts = parts
        # How long parts may take to stop before they are killed: a worker finishing its render needs
        # its own grace period (ATELIER_SHUTDOWN_GRACE_SECONDS) and a little more.
        self.stop_grace_seconds = stop_grace_seconds
        self._stopping = False

    def _request_stop(self, _signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        """Run until Ctrl-C / SIGTERM; returns an exit code."""
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        for part in self.parts:
            part.start()
        while not self._stopping:
            time.sleep(0.2)
            self.tend(time.monotonic())
        self.stop(self.stop_grace_seconds)
        return 0

    def tend(self, now: float) -> None:
        """One round: notice parts that exited and start those whose restart delay has passed."""
        for part in self.parts:
            if self._stopping or part.running():
                continue
            if part.restart_at is None:
                returncode = part.process.returncode if part.process else None
                delay = part.schedule_restart(now)
                log.warning("%s exited (%s); restarting in %g s", part.name, returncode, delay)
            elif now >= part.restart_at:
                part.start()

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        for part in reversed(self.parts):
            if part.running() and part.process is not None:
                part.process.terminate()
        deadline = time.monotonic() + grace_seconds
        for part in reversed(self.parts):
            if part.process is None:
                continue
            try:
                part.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                part.process.kill()
                part.process.wait()
