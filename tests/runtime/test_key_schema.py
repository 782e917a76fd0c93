"""The exact keys a finished task leaves in Redis, and their lifetimes (arq's discipline)."""

from __future__ import annotations

import redis
from flowc.runtime.app import App
from flowc.runtime.redis.keys import Keys

from tests.runtime.support import drain


def test_a_finished_task_leaves_its_result_the_queue_streams_the_queue_set_and_a_producer_mark(
        app: App, redis_client: redis.Redis) -> None:
    app.conf.result_expires = 3600

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    result = add.delay(1, 2)
    drain(app)
    assert result.get(timeout=1) == 3
    streams = {k.encode() for k in Keys().streams("celery")}
    expected = streams | {b"flowc:queues", f"flowc:result:{result.id}".encode()}
    # the producer thread's last publish number (publish.lua), kept 10 minutes after its last
    [producer] = set(redis_client.keys("*")) - expected
    assert producer.startswith(b"flowc:{q:celery}:producer:")
    assert 590 < redis_client.ttl(producer) <= 600
    assert 3590 < redis_client.ttl(f"flowc:result:{result.id}") <= 3600
    for stream in streams:
        assert redis_client.xlen(stream) == 0  # acked messages are deleted, not left to pile up
        assert redis_client.ttl(stream) == -1  # queues live as long as the deployment


def test_every_key_uses_the_configured_prefix(redis_url: str, redis_client: redis.Redis) -> None:
    app = App("t", broker=redis_url, flowc_key_prefix="tenant7")

    @app.task
    def noop() -> None: ...

    noop.delay()
    drain(app)
    keys = redis_client.keys("*")
    assert keys and all(k.startswith(b"tenant7:") for k in keys)


def test_all_keys_of_one_queue_share_a_cluster_slot() -> None:
    keys = Keys()
    slots = {redis.cluster.key_slot(k.encode())
             for k in [*keys.streams("media_heavy"), keys.delayed("media_heavy")]}
    assert len(slots) == 1
