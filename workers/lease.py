"""Keeps a claimed job's lease alive from a background thread while the render runs.

Renewing from the step callback alone would lose the lease whenever one step (or loading, or VAE
decoding of a large image) takes longer than the lease; a thread renews on a clock instead, and
the step callback only reads whether the lease is still held.
"""

from __future__ import annotations

import threading
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from atelier.services import jobs


class LeaseKeeper:
    def __init__(self, sessions: sessionmaker[Session], job_id: int, worker: str, lease_seconds: float) -> None:
        self._sessions = sessions
        self._job_id = job_id
        self._worker = worker
        self._lease_seconds = lease_seconds
        self._stop = threading.Event()
        self._lost = threading.Event()
        self.step = 0
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id}", daemon=True)

    @property
    def held(self) -> bool:
        return not self._lost.is_set()

    def _run(self) -> None:
        interval = max(self._lease_seconds / 3, 0.2)
        while not self._stop.wait(interval):
            try:
                with self._sessions() as session:
                    still_held = jobs.renew_lease(session, self._job_id, self._worker, self._lease_seconds, self.step)
            except Exception:  # the database is briefly away: keep rendering, retry next tick
                continue
            if not still_held:
                self._lost.set()
                return

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
