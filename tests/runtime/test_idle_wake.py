"""The idle wait on the streams' wake group (``RedisBroker.fetch``): no message is left
unclaimed while a worker that could take it sits idle."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from flowc.runtime.app import App

from tests.runtime.support import add_arithmetic_tasks


def _blocked_waiters(client: redis.Redis) -> int:
    clients: Any = client.client_list()
    return sum(1 for c in clients if c.get("cmd") == "xreadgroup")


def test_wakes_taken_from_several_streams_are_not_lost(app: App,
                                                       redis_client: redis.Redis) -> None:
    add_arithmetic_tasks(app)
    add = app.tasks["add"]
    queues = [app.conf.task_default_queue]
    app.broker.declare(queues)
    # both processes just found nothing (their idle claims moved the wake group to the end)
    assert app.broker.fetch("a@host", queues, 1, 0.0) == []
    assert app.broker.fetch("b@host", queues, 1, 0.0) == []
    low = add.apply_async((1, 1), priority=0)
    high = add.apply_async((2, 2), priority=9)
    # a (prefetch 1) waits now: both entries are new to the wake group; it claims the urgent one
    got_a = app.broker.fetch("a@host", queues, 1, 5.0, idle_ids=[b"-"] * 10)
    assert len(got_a) == 1 and high.id.encode() in got_a[0].body
    got_b: list[Any] = []
    t = threading.Thread(target=lambda: got_b.extend(
        app.broker.fetch("b@host", queues, 1, 3.0, idle_ids=[b"-"] * 10)))
    start = time.monotonic()
    t.start()
    t.join(10)
    # b, idle, must be woken for the message a could not take (not wait out its timeout)
    assert len(got_b) == 1 and low.id.encode() in got_b[0].body, time.monotonic() - start

