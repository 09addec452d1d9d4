"""Graceful shutdown: on SIGTERM a worker finishes its render when that fits in the grace period, and
otherwise stops at the next step so the job goes straight back to the queue for another worker.

Celery's warm shutdown (SIGTERM) lets the running task return before the process exits; the task
itself decides here whether to render on. The pace so far predicts the end: a render that cannot
make the deadline is stopped at once rather than at the deadline, so no GPU-second is wasted.
"""

from __future__ import annotations

import threading
import time


class ShutdownClock:
    def __init__(self) -> None:
        self._deadline: float | None = None
        self._lock = threading.Lock()

    def begin(self, grace_seconds: float) -> None:
        """Called once by the signal; a second signal does not extend the grace."""
        with self._lock:
            if self._deadline is None:
                self._deadline = time.monotonic() + max(grace_seconds, 0.0)

    @property
    def requested(self) -> bool:
        return self._deadline is not None

    def should_stop(self, started: float, step: int, total: int, now: float | None = None) -> bool:
        """Whether a render that began at `started` and is at `step` of `total` should stop now."""
        if self._deadline is None:
            return False
        now = time.monotonic() if now is None else now
        if now >= self._deadline:
            return True
        if step <= 0:
            return False
        remaining = (now - started) / step * max(total - step, 0)
        return now + remaining > self._deadline

    def reset(self) -> None:
        with self._lock:
            self._deadline = None


SHUTDOWN = ShutdownClock()
