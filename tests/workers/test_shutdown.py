"""The shutdown clock: a render renders on while it should end within the grace, and stops otherwise."""

from __future__ import annotations

from workers.shutdown import ShutdownClock


def _clock(grace: float, now: float) -> ShutdownClock:
    clock = ShutdownClock()
    clock._deadline = now + grace  # begin() reads the real clock; these cases pin it
    return clock


def test_no_signal_never_stops() -> None:
    """Without SIGTERM every step renders on."""
    assert not ShutdownClock().should_stop(started=0.0, step=1, total=1000, now=10**6)


def test_a_render_that_ends_within_the_grace_goes_on() -> None:
    """10 of 20 steps in 5 s, 5 s left, 30 s of grace: render on."""
    assert not _clock(30, now=105).should_stop(started=100, step=10, total=20, now=105)


def test_a_render_that_would_outlast_the_grace_stops_now() -> None:
    """10 of 150 steps in 5 s (70 s left) with 30 s of grace: stop at once, not at the deadline."""
    assert _clock(30, now=105).should_stop(started=100, step=10, total=150, now=105)


def test_the_deadline_stops_any_render() -> None:
    """Past the deadline even an almost finished render stops (its pace misled the estimate)."""
    assert _clock(1, now=100).should_stop(started=0, step=99, total=100, now=102)


def test_a_second_signal_does_not_extend_the_grace() -> None:
    """begin() twice keeps the first deadline."""
    clock = ShutdownClock()
    clock.begin(0)
    clock.begin(3600)
    assert clock.should_stop(started=0, step=0, total=10)
