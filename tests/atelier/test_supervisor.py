"""The supervisor restarts crashing parts with a growing delay and never takes the healthy ones down."""

from __future__ import annotations

import sys
import time

from atelier.supervisor import MAX_RESTART_DELAY, Part, Supervisor


def crashing(name: str = "worker") -> Part:
    return Part(name, [sys.executable, "-c", "raise SystemExit(3)"])


def wait_exit(part: Part) -> None:
    assert part.process is not None
    part.process.wait(10)


def test_restart_delay_doubles_and_is_capped() -> None:
    part = crashing()
    part.started_at = 100.0
    delays = [part.schedule_restart(100.0 + n) for n in range(9)]
    assert delays[:4] == [1, 2, 4, 8] and delays[-1] == MAX_RESTART_DELAY


def test_a_part_healthy_for_a_minute_starts_over() -> None:
    part = crashing()
    part.started_at = 0.0
    part.schedule_restart(1.0)
    part.schedule_restart(2.0)
    part.started_at = 10.0
    assert part.schedule_restart(75.0) == 1.0


def test_crashing_worker_restarts_after_its_delay_while_the_gallery_runs() -> None:
    """A worker that exits at once is restarted only after its delay; the long-running part is untouched."""
    worker = crashing()
    gallery = Part("gallery", [sys.executable, "-c", "import time; time.sleep(30)"])
    supervisor = Supervisor([worker, gallery])
    worker.start()
    gallery.start()
    try:
        wait_exit(worker)
        first = worker.process
        now = time.monotonic()
        supervisor.tend(now)
        assert worker.restart_at == now + 1.0 and worker.process is first
        supervisor.tend(now + 0.5)
        assert worker.process is first
        supervisor.tend(now + 1.0)
        assert worker.process is not first and gallery.running()
    finally:
        supervisor.stop(grace_seconds=5)
