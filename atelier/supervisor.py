"""`atelier up`'s process supervisor: start every part, restart a part that dies, stop all on Ctrl-C.

Each part is its own process (the worker must not share a process with the web server: CUDA and
forking do not mix, and a crashing render must not take the gallery down).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

RESTART_WINDOW_SECONDS = 60.0
MAX_RESTARTS_IN_WINDOW = 5


@dataclass
class Part:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]


class Supervisor:
    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts
        self._stopping = False

    def _request_stop(self, _signum: int, _frame: FrameType | None) -> None:
        self._stopping = True

    def run(self) -> int:
        """Run until Ctrl-C / SIGTERM, or until a part keeps crashing; returns an exit code."""
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        for part in self.parts:
            part.start()
        code = 0
        while not self._stopping:
            time.sleep(0.5)
            for part in self.parts:
                if self._stopping or part.running():
                    continue
                now = time.monotonic()
                part.restarts = [t for t in part.restarts if now - t < RESTART_WINDOW_SECONDS]
                if len(part.restarts) >= MAX_RESTARTS_IN_WINDOW:
                    print(f"atelier: {part.name} keeps exiting; stopping everything", file=sys.stderr)
                    self._stopping, code = True, 1
                    break
                returncode = part.process.returncode if part.process else None
                print(f"atelier: {part.name} exited ({returncode}); restarting", file=sys.stderr)
                part.restarts.append(now)
                part.start()
        self.stop()
        return code

    def stop(self, grace_seconds: float = 20.0) -> None:
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
