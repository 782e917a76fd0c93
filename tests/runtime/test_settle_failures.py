"""A flush that fails part-way keeps only what is safe to send again."""

from __future__ import annotations

import pytest
import redis
from flowc.runtime.app import App
from flowc.runtime.broker import Delivery, Outgoing
from flowc.runtime.worker.settle import Settler


def test_a_publish_that_reached_redis_is_not_sent_again_after_another_command_failed(
        app: App, redis_client: redis.Redis) -> None:
    # Given a flush holding a retry's publish and an ack that Redis will refuse (WRONGTYPE)
    app.broker.declare(["celery"])
    redis_client.set("not-a-stream", "x")
    settler = Settler(app.settlement)
    settler.publish(Outgoing("celery", 0, b'{"v":1}', b"j"))
    settler.ack(Delivery(b"not-a-stream", b"1-1", b"", b"j"))
    # When the flush fails, and the next one succeeds once the cause is gone
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        settler.flush("w")
    redis_client.delete("not-a-stream")
    settler.flush("w")
    # Then the message was published exactly once: its task will not run twice
    assert redis_client.xlen(app.keys.stream("celery", 0)) == 1
    assert len(settler) == 0


def test_a_task_starts_although_the_flush_before_it_fails_and_is_not_held_after(
        app: App, redis_client: redis.Redis) -> None:
    # Given a late-acked task claimed by a consumer whose unsent settle batch Redis refuses
    # (as during a failover: the flush before a slow task starts raises)
    from flowc.runtime.worker.consumer import Consumer

    ran = []

    @app.task(acks_late=True, track_started=True)
    def slow(i: int) -> int:
        ran.append(i)
        return i

    consumer = Consumer(app, ["celery"], "c.1")
    app.broker.declare(["celery"])
    result = slow.delay(7)
    redis_client.set("not-a-stream", "x")
    consumer.settler.ack(Delivery(b"not-a-stream", b"1-1", b"", b"j"))
    # When the consumer runs: the flush before the start fails, and so does the one after
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        consumer.run_once()
    # Then the task ran anyway, and once the cause is gone its outcome is settled
    assert ran == [7]
    redis_client.delete("not-a-stream")
    consumer.run_once()
    assert result.get(timeout=5) == 7
    # And the process holds nothing (else the orphan check would never return the message)
    assert consumer.held_ids() == set()
    assert redis_client.xlen(app.keys.stream("celery", 0)) == 0
    consumer.shutdown()
