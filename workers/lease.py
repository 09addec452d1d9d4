"""Keeps the leases of the jobs a worker renders alive from a background thread while the render runs.

Renewing from the step callback alone would lose the lease whenever one step (or loading, or VAE
decoding of a large image) takes longer than the lease; a thread renews on a clock instead, and
the step callback only reads which jobs are still held. A batch holds several jobs: one of them
cancelled or taken away does not stop the others.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from atelier.services import jobs


class LeaseKeeper:
    def __init__(
        self, sessions: sessionmaker[Session], job_ids: Sequence[int], worker: str, lease_seconds: float
    ) -> None:
        self._sessions = sessions
        self._job_ids = list(job_ids)
        self._worker = worker
        self._lease_seconds = lease_seconds
        self._stop = threading.Event()
        self._lost: set[int] = set()
        self.step = 0
        self._thread = threading.Thread(target=self._run, name=f"lease-{self._job_ids[0]}", daemon=True)

    def holds(self, job_id: int) -> bool:
        return job_id not in self._lost

    @property
    def held(self) -> bool:
        """Whether any of the jobs is still ours: rendering on is worth it."""
        return len(self._lost) < len(self._job_ids)

    def _run(self) -> None:
        interval = max(self._lease_seconds / 3, 0.2)
        while not self._stop.wait(interval):
            for job_id in self._job_ids:
                if job_id in self._lost:
                    continue
                try:
                    with self._sessions() as session:
                        still_held = jobs.renew_lease(session, job_id, self._worker, self._lease_seconds, self.step)
                except Exception:  # the database is briefly away: keep rendering, retry next tick
                    continue
                if not still_held:
                    self._lost.add(job_id)
            if not self.held:
                return

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
