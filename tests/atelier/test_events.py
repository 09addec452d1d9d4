"""Job events stay within their Redis database: installs sharing a server do not hear each other."""

from __future__ import annotations

import pytest
import redis

from atelier import events
from tests.helpers.private_services import unreachable_redis


def test_channels_carry_the_database_number() -> None:
    assert events.all_events_channel("redis://127.0.0.1:6379/3") == "atelier:3:events"
    assert events.job_channel("unix:///tmp/r.sock?db=2", 7) == "atelier:2:job:7"
    assert events.all_events_channel("redis://127.0.0.1:6379") == "atelier:0:events"


def test_an_install_on_another_database_does_not_hear_the_event(redis_url: str) -> None:
    """A listener for database 10 gets nothing when database 11 publishes job 1's completion."""
    base = redis_url.rsplit("/", 1)[0]
    ours, theirs = f"{base}/10", f"{base}/11"
    listener = redis.Redis.from_url(ours).pubsub()
    listener.subscribe(events.all_events_channel(ours))
    listener.get_message(timeout=1)
    events.publish(events.redis_client(theirs), "done", 1, image_ids=[1])
    assert listener.get_message(timeout=0.5) is None
    events.publish(events.redis_client(ours), "done", 1, image_ids=[1])
    message = listener.get_message(timeout=2)
    assert message is not None and events.decode(message["data"])["job_id"] == 1


def test_an_event_redis_cannot_take_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """Readers can always re-read the job, so a lost event is a warning, never an error for the caller."""
    events.publish(unreachable_redis(), "done", 5)
    assert "job 5: event job.done not published" in caplog.text
