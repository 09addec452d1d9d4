"""Routing: jobs go to a model's own queue while a worker holds it warm."""

from __future__ import annotations

import redis

from atelier.queue import SHARED_QUEUE, advertise_warm, celery_broker_url, model_queue, queue_for


def test_cold_checkpoint_goes_to_the_shared_queue(redis_url: str) -> None:
    """No worker has the model loaded: any idle worker may take it."""
    assert queue_for(redis.Redis.from_url(redis_url), "sdxl-base") == SHARED_QUEUE


def test_warm_checkpoint_goes_to_its_own_queue(redis_url: str) -> None:
    """A worker advertising the model gets its jobs without a model switch."""
    client = redis.Redis.from_url(redis_url)
    advertise_warm(client, ["sdxl-base"])
    assert queue_for(client, "sdxl-base") == model_queue("sdxl-base")


def test_socket_urls_are_spelt_for_kombu() -> None:
    """redis-py's unix:// becomes kombu's redis+socket://; TCP URLs pass through."""
    assert celery_broker_url("unix:///d/redis.sock") == "redis+socket:///d/redis.sock"
    assert celery_broker_url("redis://h:6379/0") == "redis://h:6379/0"
