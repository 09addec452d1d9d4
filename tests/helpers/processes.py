"""Start Atelier's real processes (worker, gallery, bot) as subprocesses for tests, and stop them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class Process:
    """A child process whose output goes to a log file that tests can wait on."""

    def __init__(
        self, args: Sequence[str], log_path: Path, env: dict[str, str] | None = None, inherit_env: bool = True
    ) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env={**(os.environ if inherit_env else {}), **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.popen.poll() is not None:
                raise RuntimeError(f"process exited with {self.popen.returncode}:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"{text!r} not seen in {timeout}s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a power cut would."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def start_worker(log_path: Path, env: dict[str, str] | None = None) -> Process:
    worker = Process(["-m", "workers"], log_path, env)
    worker.wait_for_log("worker ready")
    return worker


@contextmanager
def running_worker(log_path: Path, env: dict[str, str] | None = None) -> Iterator[Process]:
    worker = start_worker(log_path, env)
    try:
        yield worker
    finally:
        worker.stop()
