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
    settler = Settler(app)
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


def test_a_flush_whose_server_lost_its_scripts_still_claims_the_next_batch(
        app: App, redis_client: redis.Redis) -> None:
    from flowc.runtime.worker.consumer import Consumer

    sent = []

    @app.task(name="restart_then_send")
    def restart_then_send() -> int:
        redis_client.script_flush()  # as a server restart empties the script cache
        sent.append(app.send_task("noop_later"))
        return 1

    consumer = Consumer(app, ["celery"], "w@host")
    app.broker.declare(consumer.queues)
    first = app.tasks["restart_then_send"].delay()
    consumer.run_once()  # runs it; the flush's claim meets NOSCRIPT and claims on its own
    assert first.get(timeout=5) == 1
    assert [d.body for d in consumer.pending] and \
        sent[0].id.encode() in consumer.pending[0].body  # the message sent meanwhile
