"""A workflow run whose keys expired takes no more joins: a late duplicate of one of its steps
is a no-op (acknowledged, nothing re-created without a TTL)."""

from __future__ import annotations

from typing import Any

import redis
from flowc.compiler.canvas.primitives import chain
from flowc.runtime.app import App
from flowc.runtime.redis.keys import CONSUMER_GROUP
from flowc.runtime.worker.consumer import Consumer

from tests.runtime.support import add_arithmetic_tasks


def test_a_late_duplicate_of_an_expired_runs_step_is_acked_and_a_no_op(
        app: App, redis_client: redis.Redis) -> None:
    add_arithmetic_tasks(app)
    add = app.tasks["add"]
    app.conf.task_acks_late = True
    queues = [app.conf.task_default_queue]
    worker = Consumer(app, queues, "w@host")
    app.broker.declare(queues)
    result = chain(add.s(1, 1), add.s(10)).delay()
    first = app.broker.fetch("w@host", queues, 1, 0.0)
    body, tag = first[0].body, first[0].tag
    worker.pending = first
    while worker.pending or not result.ready():
        worker.run_once()
    assert result.get(timeout=5) == 12
    # the run expires (its result TTL), then a copy of its first step is redelivered
    for key in app.keys.workflow(result.workflow_id):
        redis_client.delete(key)
    stream = app.broker.stream_keys(queues)[-1]
    redis_client.xadd(stream, {b"b": body, b"c": tag, b"d": b"1"})
    plain = add.delay(3, 4)
    worker.run_once()
    if not plain.ready():
        worker.run_once()
    assert plain.get(timeout=5) == 7
    pending: Any = redis_client.xpending(stream, CONSUMER_GROUP)
    assert pending["pending"] == 0  # both acknowledged
    assert redis_client.exists(*app.keys.workflow(result.workflow_id)) == 0  # nothing recreated
