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
